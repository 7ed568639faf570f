"""Small immutable values shared by every layer: endpoints, secrets, mappings."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Proto = Literal["tcp", "udp"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A literal IP address and a port (local/remote/mapped addresses)."""

    ip: IPAddress
    port: int

    def __str__(self) -> str:
        if self.ip.version == 6:
            return f"[{self.ip}]:{self.port}"
        return f"{self.ip}:{self.port}"

    @property
    def family_v6(self) -> bool:
        return self.ip.version == 6

    def sockaddr(self) -> tuple[str, int]:
        return (str(self.ip), self.port)


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host name or literal plus a port (STUN, keepalive and query targets)."""

    host: str
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


class Secret:
    """A credential whose ``repr``/``str`` never shows it; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('******')"

    def __str__(self) -> str:
        return "******"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class Mapping:
    """What the NAT did with our local port: ``inner`` is seen outside as ``outer``."""

    proto: Proto
    inner: Endpoint
    outer: Endpoint

    @property
    def is_public(self) -> bool:
        """True when there is no NAT at all (the host holds the public address)."""
        return self.inner == self.outer
