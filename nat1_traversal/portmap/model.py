"""Values shared by the three port-mapping protocols (PCP, NAT-PMP, UPnP IGD)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

Proto = Literal["tcp", "udp"]
Method = Literal["PCP", "NAT-PMP", "UPnP"]

# RFC 6887 §7 / RFC 6886 §1.1: both servers listen on the gateway's UDP port 5351.
SERVER_PORT = 5351


@dataclass(frozen=True, slots=True)
class Forward:
    """A forward the gateway granted: ``external_port`` on the gateway → this host's ``internal_port``."""

    method: Method
    gateway: ipaddress.IPv4Address
    proto: Proto
    internal_port: int
    external_port: int
    lifetime: int  # seconds granted; 0 = permanent (UPnP error 725 path), we delete it ourselves
    external_ip: ipaddress.IPv4Address | None = None


@dataclass(slots=True)
class EpochClock:
    """The server-epoch check of RFC 6887 §8.5 (NAT-PMP's §3.6 is the same idea).

    A gateway reports seconds since it started; if that count goes backwards, or
    grows far slower than our own clock, it rebooted and lost our mappings.
    """

    server: int | None = None
    client: float | None = None

    def observe(self, server_epoch: int, now: float) -> bool:
        """Record an answer's epoch; ``True`` when the gateway lost its state."""
        prev_server, prev_client = self.server, self.client
        self.server, self.client = server_epoch, now
        if prev_server is None or prev_client is None:
            return False
        if server_epoch + 1 < prev_server:
            return True
        client_delta = now - prev_client
        server_delta = server_epoch - prev_server
        too_slow = client_delta + 2 < server_delta - server_delta / 16
        too_fast = server_delta + 2 < client_delta - client_delta / 16
        return too_slow or too_fast


# Addresses a gateway's WAN side only has behind another NAT: RFC 1918, RFC 6598
# (carrier-grade NAT), link-local. Not ``is_private``: that also holds the TEST-NETs.
_BEHIND_NAT = tuple(
    ipaddress.IPv4Network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")
)


def is_private(address: ipaddress.IPv4Address) -> bool:
    """An external address that tells of another NAT in front of the gateway."""
    return any(address in net for net in _BEHIND_NAT)
