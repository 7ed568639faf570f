"""Small network helpers of the keeper: a resolver with a cache and source-address lookup.

A socket bound to ``[::]`` is dual-stack (``net.reuse_socket`` turns IPV6_V6ONLY
off), so it can reach IPv4 servers through IPv4-mapped addresses
(``::ffff:a.b.c.d``, RFC 4291 section 2.5.5.2). Resolving for it with AF_INET6
alone would find only AAAA records and fail on every IPv4-only STUN or keepalive
server, so ``Resolver`` asks for both families there and prefers IPv4: the NAT
(and so the mapping worth keeping and publishing) is an IPv4 matter, while an
IPv6 path usually has no NAT at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from nat1_traversal.errors import NetworkError
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import SocketKind, resolve

_SOCK_TYPE: dict[str, int] = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


def is_dual_stack(local: Endpoint) -> bool:
    """True for ``[::]``: the one local address whose sockets we leave dual-stack."""
    return local.ip == ipaddress.IPv6Address("::")


def v4_mapped(host: str) -> str:
    """``a.b.c.d`` as the IPv4-mapped IPv6 address a dual-stack socket uses."""
    return f"::ffff:{host}"


async def resolve_dual_stack(target: HostPort, kind: SocketKind) -> tuple[str, int]:
    """Resolve ``target`` for a dual-stack ``[::]`` socket: IPv4 first (mapped), else IPv6."""
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        host = v4_mapped(str(literal)) if literal.version == 4 else str(literal)
        return (host, target.port)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, family=socket.AF_UNSPEC, type=_SOCK_TYPE[kind])
    except (OSError, UnicodeError) as exc:
        raise NetworkError("stun.resolve_failed", host=target.host, error=exc) from exc
    v4 = [info[4] for info in infos if info[0] == socket.AF_INET]
    v6 = [info[4] for info in infos if info[0] == socket.AF_INET6]
    if v4:
        return (v4_mapped(str(v4[0][0])), int(v4[0][1]))
    if v6:
        return (str(v6[0][0]), int(v6[0][1]))
    raise NetworkError("stun.resolve_failed", host=target.host, error="no address")


class Resolver:
    """``net.resolve`` with a time-to-live cache: keepalives must not resolve every tick.

    ``dual_stack``: the socket is bound to ``[::]`` with IPV6_V6ONLY off; IPv4
    servers are then returned as IPv4-mapped IPv6 addresses (``resolve_dual_stack``).
    """

    def __init__(self, kind: SocketKind, family: int, ttl: float, *, dual_stack: bool = False) -> None:
        self._kind: SocketKind = kind
        self._family = family
        self._ttl = ttl
        self._dual_stack = dual_stack and family == socket.AF_INET6
        self._cache: dict[HostPort, tuple[float, tuple[str, int]]] = {}

    async def __call__(self, server: HostPort) -> tuple[str, int]:
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(server)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        if self._dual_stack:
            addr = await resolve_dual_stack(server, self._kind)
        else:
            addr = await resolve(server, self._kind, self._family)
        self._cache[server] = (now, addr)
        return addr


def source_endpoint(bound: Endpoint, peer: tuple[str, int]) -> Endpoint:
    """The address our packets to ``peer`` leave from, for a socket bound to ``bound``.

    A wildcard bind says nothing about the source address; a throw-away UDP socket
    ``connect()``ed to the peer asks the routing table (no packet is sent).
    """
    if not bound.ip.is_unspecified:
        return unmapped(bound)
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(peer)
            host = probe.getsockname()[0]
    except OSError:
        return bound
    return unmapped(Endpoint(ipaddress.ip_address(str(host).split("%", 1)[0]), bound.port))


def unmapped(endpoint: Endpoint) -> Endpoint:
    """``[::ffff:a.b.c.d]:port`` (a dual-stack socket's view of IPv4) as ``a.b.c.d:port``."""
    ip = endpoint.ip
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return Endpoint(ip.ipv4_mapped, endpoint.port)
    return endpoint
