"""Signs that STUN traffic goes through a proxy (SPEC section 13, last bullet), for ``-t`` and start-up.

Proxy tools on the router or this host (OpenClash, Clash and the like in fake-IP mode)
answer every DNS question with an address in 198.18.0.0/15 (the RFC 2544 benchmarking
range) and carry the traffic themselves: STUN then reports the proxy's exit, not the
NAT's mapping, and nothing published can be reached. Two signs, both cheap:

* a STUN or keepalive server name resolves into 198.18.0.0/15 (the lookup goes
  through ``net.lookup_addrinfo``, the seam the ``resolver`` key also uses);
* STUN servers disagree on the public IP while the mapping itself is
  endpoint-independent (same port): a NAT keeps one external IP per inner host
  (RFC 4787 REQ-2, "paired" pooling), a proxy with several exits does not.

The fix users need is to let STUN go direct: a bypass rule in OpenClash, or the
``geosite:category-stun`` rule set routed DIRECT.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence

from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import lookup_addrinfo

log = logging.getLogger(__name__)

FAKE_IP_NETWORK = ipaddress.ip_network("198.18.0.0/15")
LOOKUP_TIMEOUT = 3.0


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def fake_ip_names(servers: Iterable[HostPort]) -> list[tuple[str, str]]:
    """``(name, address)`` for every server name that resolves into the fake-IP range
    (looked up concurrently, each within ``LOOKUP_TIMEOUT``)."""
    names: dict[str, HostPort] = {}
    for server in servers:
        name = server.host.lower().rstrip(".")
        if name not in names and not _is_literal(name):
            names[name] = server
    found = await asyncio.gather(*(_fake_ip_of(server) for server in names.values()))
    pairs = zip(names.values(), found, strict=True)
    return [(server.host, address) for server, address in pairs if address is not None]


async def _fake_ip_of(server: HostPort) -> str | None:
    try:
        infos = await asyncio.wait_for(
            lookup_addrinfo(server.host, server.port, socket.AF_INET, socket.SOCK_DGRAM), LOOKUP_TIMEOUT
        )
    except (OSError, UnicodeError, asyncio.TimeoutError) as exc:
        log.debug("proxy check: %s does not resolve: %r", server.host, exc)
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]))
        if address.version == 4 and address in FAKE_IP_NETWORK:
            return str(address)
    return None


def disagreeing(mapped: Sequence[Endpoint]) -> tuple[Endpoint, Endpoint] | None:
    """Two answers with different public IPs but the same port, or None.

    The same port shows the mapping is endpoint-independent (a NAT that maps per
    destination would change the port too); a different IP then points at a proxy."""
    for index, first in enumerate(mapped):
        for second in mapped[index + 1 :]:
            if first.ip != second.ip and first.port == second.port:
                return first, second
    return None


async def warn_fake_ips(servers: Iterable[HostPort]) -> bool:
    """Log the fake-IP WARNING (once, all names together); True when there was one."""
    found = await fake_ip_names(servers)
    if not found:
        return False
    names = "、".join(f"{name} → {address}" for name, address in found)
    log.warning(t("reach.proxy.fake_ip", names=names))
    return True


def warn_disagreement(first: Endpoint, second: Endpoint) -> None:
    log.warning(t("reach.proxy.disagree", first=str(first), second=str(second)))
