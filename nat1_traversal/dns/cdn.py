"""CDN origins (SPEC section 15): the published mapping becomes a CDN's origin, not DNS records.

A CDN provider gets the same two planned records as a DNS provider (the address
record and the SRV record) and reads from them what a CDN needs: the origin IP
(the address record) and the origin port (the SRV record's port). It compares with
what the CDN holds and writes only what differs, as the DNS providers do: an
unchanged mapping costs reads, never a write.

Only ``type: web`` makes sense behind a CDN (HTTP/HTTPS origins); the provider
files declare that with ``ProviderSpec(types=...)`` and the config check refuses
every other type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from nat1_traversal.dns.base import Record, SrvData
from nat1_traversal.errors import ProviderError

CDN_TYPES = frozenset({"web"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the CDN fetches from: an IP and the ports of HTTP and HTTPS origin pulls."""

    ip: str
    http_port: int
    https_port: int

    def same(self, other: Origin | None) -> bool:
        if other is None:
            return False
        try:
            same_ip = ipaddress.ip_address(self.ip) == ipaddress.ip_address(other.ip)
        except ValueError:
            same_ip = self.ip == other.ip
        return same_ip and (self.http_port, self.https_port) == (other.http_port, other.https_port)


def wanted_origin(records: Sequence[Record], provider: str) -> Origin:
    """The origin the planned records stand for: the address and the SRV port."""
    address = next((r for r in records if r.type in ("A", "AAAA") and isinstance(r.data, str)), None)
    srv = next((r for r in records if isinstance(r.data, SrvData)), None)
    if address is None or srv is None or not isinstance(srv.data, SrvData) or not isinstance(address.data, str):
        raise ProviderError("dns.api_error", provider=provider, detail="no address or port to publish")
    return Origin(address.data, srv.data.port, srv.data.port)


def port_of(value: object) -> int:
    """A port from a JSON reply (a number or its text); 0 when there is none."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0
