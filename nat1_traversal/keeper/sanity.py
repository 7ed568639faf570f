"""Which STUN answers may count as a mapping: a pure check, before anything is logged,
published or handed to ``on_change`` (issue 15: one bad reply must never reach DNS).
"""

from __future__ import annotations

import ipaddress

from nat1_traversal.model import Mapping

# RFC 6890 special-purpose ranges that are routable only inside some private network.
# A NAT whose outside address is in one of them sits behind *another* NAT (a home
# router behind the ISP's router, or behind carrier-grade NAT in 100.64/10, RFC 6598):
# a legitimate step of a double NAT, but players on the Internet cannot reach it, so
# it is never published as the public address.
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
_UNIQUE_LOCAL_V6 = ipaddress.IPv6Network("fc00::/7")  # RFC 4193: the IPv6 counterpart
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def mapping_problem(mapping: Mapping) -> str | None:
    """None when ``mapping.outer`` can be a public mapping, else a message key saying why not.

    Loopback, link-local and private outer addresses are accepted in one case only:
    equal to ``inner``, i.e. no NAT in between (a STUN server on this host or this
    link, as in tests and LAN setups); no remote server can make us see that.
    """
    outer = mapping.outer
    ip = outer.ip
    if outer.port == 0:
        return "keeper.bad.port_zero"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return "keeper.bad.v4_mapped"  # a dual-stack socket's internal spelling, never on the wire
    if ip.is_unspecified:
        return "keeper.bad.unspecified"
    if ip.is_multicast or ip == _BROADCAST or (ip.version == 4 and ip.is_reserved):
        return "keeper.bad.not_unicast"  # cannot be the source of a packet (RFC 1122 3.2.1.3)
    no_nat = outer == mapping.inner
    if ip.is_loopback and not no_nat:
        return "keeper.bad.loopback"
    if ip.is_link_local and not no_nat:
        return "keeper.bad.link_local"
    private = ip in _UNIQUE_LOCAL_V6 if ip.version == 6 else any(ip in net for net in _PRIVATE_V4)
    if private and not no_nat:
        return "keeper.bad.private"
    return None
