"""Small network helpers of the keeper: a resolver with a cache and source-address lookup."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import SocketKind, resolve


class Resolver:
    """``net.resolve`` with a time-to-live cache: keepalives must not resolve every tick."""

    def __init__(self, kind: SocketKind, family: int, ttl: float) -> None:
        self._kind: SocketKind = kind
        self._family = family
        self._ttl = ttl
        self._cache: dict[HostPort, tuple[float, tuple[str, int]]] = {}

    async def __call__(self, server: HostPort) -> tuple[str, int]:
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(server)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        addr = await resolve(server, self._kind, self._family)
        self._cache[server] = (now, addr)
        return addr


def source_endpoint(bound: Endpoint, peer: tuple[str, int]) -> Endpoint:
    """The address our packets to ``peer`` leave from, for a socket bound to ``bound``.

    A wildcard bind says nothing about the source address; a throw-away UDP socket
    ``connect()``ed to the peer asks the routing table (no packet is sent).
    """
    if not bound.ip.is_unspecified:
        return bound
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(peer)
            host = probe.getsockname()[0]
    except OSError:
        return bound
    ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return Endpoint(ip, bound.port)
