"""Socket helpers shared by every part: reuse-port sockets, name resolution, TCP connect,
and the two asyncio/bind helpers every owner of a socket or task needs.

Everything here is non-blocking: sockets are created non-blocking and names are
resolved with ``loop.getaddrinfo`` (which runs the blocking resolver in the default
executor, never on the event loop thread).

A socket bound to ``[::]`` is dual-stack (``reuse_socket`` turns IPV6_V6ONLY
off), so it can reach IPv4 servers through IPv4-mapped addresses
(``::ffff:a.b.c.d``, RFC 4291 section 2.5.5.2). Resolving for it with AF_INET6
alone would find only AAAA records and fail on every IPv4-only STUN or keepalive
server, so ``Resolver`` asks for both families there and prefers IPv4: the NAT
(and so the mapping worth keeping and publishing) is an IPv4 matter, while an
IPv6 path usually has no NAT at all.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from nat1_traversal.errors import NetTimeout, NetworkError
from nat1_traversal.model import Endpoint, HostPort, IPAddress

SocketKind = Literal["tcp", "udp"]

_SOCK_TYPE: dict[str, int] = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}

# SPEC section 15 ``resolver``: who looks up the names of STUN and keepalive servers.
# None = the system (``loop.getaddrinfo``); the CLI installs DNS over HTTPS
# (``resolver.DohLookups.addresses``) with ``set_name_lookup``.
NameLookup = Callable[[str, int], Awaitable[list[IPAddress]]]  # (host, AF_INET|AF_INET6) -> addresses
_name_lookup: NameLookup | None = None


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def set_name_lookup(lookup: NameLookup | None) -> None:
    global _name_lookup
    _name_lookup = lookup


async def lookup_addrinfo(host: str, port: int, family: int, sock_type: int) -> list[tuple[Any, ...]]:
    """``loop.getaddrinfo``, or the installed name lookup (DoH) in the same shape.

    Every lookup of a server name goes through here (STUN, keepalive, reach checkers).
    """
    if _name_lookup is None or _is_literal(host):
        return await asyncio.get_running_loop().getaddrinfo(host, port, family=family, type=sock_type)
    families = [socket.AF_INET, socket.AF_INET6] if family == socket.AF_UNSPEC else [family]
    infos: list[tuple[Any, ...]] = []
    for wanted in families:
        for ip in await _name_lookup(host, wanted):
            sockaddr = (str(ip), port) if ip.version == 4 else (str(ip), port, 0, 0)
            infos.append((socket.AF_INET if ip.version == 4 else socket.AF_INET6, sock_type, 0, "", sockaddr))
    return infos


def family_of(endpoint: Endpoint) -> int:
    return socket.AF_INET6 if endpoint.family_v6 else socket.AF_INET


def reuse_socket(kind: SocketKind, local: Endpoint) -> socket.socket:
    """A non-blocking socket bound to ``local`` that can share its port.

    SO_REUSEADDR + SO_REUSEPORT let us bind the same ``ip:port`` as the service
    (shared-port mode, SPEC section 1) and let several of our own sockets (STUN
    probes, keepalive) use one port. Windows has no SO_REUSEPORT; there
    SO_REUSEADDR alone already allows sharing.

    An IPv6 socket bound to ``::`` is left dual-stack (IPV6_V6ONLY=0) so that
    ``[::]:port`` also covers IPv4, like the service it shares the port with;
    any other IPv6 address is v6-only by nature, so the option is not touched.
    """
    family = family_of(local)
    sock = socket.socket(family, _SOCK_TYPE[kind])
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and local.ip == ipaddress.IPv6Address("::"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setblocking(False)
        sock.bind(local.sockaddr())
    except OSError as exc:
        sock.close()
        raise NetworkError("stun.bind_failed", local=str(local), kind=kind, error=exc.strerror or exc) from exc
    return sock


def local_endpoint(sock: socket.socket) -> Endpoint:
    """The address a socket is bound to, as an ``Endpoint``."""
    host, port = sock.getsockname()[:2]
    return Endpoint(ipaddress.ip_address(host.split("%", 1)[0]), port)


def any_endpoint(family: int = socket.AF_INET, port: int = 0) -> Endpoint:
    """The wildcard address of ``family`` (``0.0.0.0:port`` or ``[::]:port``)."""
    ip = ipaddress.IPv6Address("::") if family == socket.AF_INET6 else ipaddress.IPv4Address("0.0.0.0")
    return Endpoint(ip, port)


def loopback_of(endpoint: Endpoint) -> Endpoint:
    """Where to reach a service bound to ``endpoint`` from this host (wildcard -> loopback)."""
    if endpoint.ip.is_unspecified:
        v6 = endpoint.ip.version == 6
        lo = ipaddress.IPv6Address("::1") if v6 else ipaddress.IPv4Address("127.0.0.1")
        return Endpoint(lo, endpoint.port)
    return endpoint


async def resolve(target: HostPort, kind: SocketKind, family: int = socket.AF_INET) -> tuple[str, int]:
    """Resolve ``target`` to one ``(ip, port)`` of ``family`` without blocking the loop."""
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        if (literal.version == 6) != (family == socket.AF_INET6):
            raise NetworkError("stun.resolve_failed", host=target.host, error="address family")
        return (str(literal), target.port)
    try:
        infos = await lookup_addrinfo(target.host, target.port, family, _SOCK_TYPE[kind])
    except (OSError, UnicodeError) as exc:
        raise NetworkError("stun.resolve_failed", host=target.host, error=exc) from exc
    for _family, _type, _proto, _canon, sockaddr in infos:
        return (str(sockaddr[0]), int(sockaddr[1]))
    raise NetworkError("stun.resolve_failed", host=target.host, error="no address")


async def connect_from(local: Endpoint, remote: tuple[str, int], timeout: float) -> socket.socket:
    """A TCP connection to ``remote`` from a reuse-port socket bound to ``local``.

    The socket stays non-blocking; the caller owns it (use ``loop.sock_*`` or
    ``asyncio.open_connection(sock=...)``).
    """
    sock = reuse_socket("tcp", local)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, remote), timeout)
    except asyncio.TimeoutError as exc:
        sock.close()
        raise NetTimeout("stun.connect_timeout", remote=show_addr(remote), timeout=timeout) from exc
    except OSError as exc:
        sock.close()
        raise NetworkError("stun.connect_failed", remote=show_addr(remote), error=exc.strerror or exc) from exc
    except BaseException:
        sock.close()
        raise
    return sock


async def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes from a non-blocking stream socket (``b""`` never)."""
    loop = asyncio.get_running_loop()
    chunks = bytearray()
    while len(chunks) < size:
        chunk = await loop.sock_recv(sock, size - len(chunks))
        if not chunk:
            raise NetworkError("stun.connection_closed", got=len(chunks), wanted=size)
        chunks += chunk
    return bytes(chunks)


def is_fatal_bind_error(exc: BaseException) -> bool:
    """A bind error no retry can fix: the port is taken by a socket we cannot share."""
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in (errno.EADDRINUSE, errno.EACCES)


async def cancel_and_wait(task: asyncio.Task[object] | None, timeout: float = 1.0) -> None:
    """Cancel ``task`` and wait (bounded) for it; our own cancellation still propagates."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: it was reported by whoever owned the task


def show_addr(addr: tuple[str, int]) -> str:
    """``host:port`` as users write it (``[v6]:port``)."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- dual-stack sockets, cached resolution, source addresses -------------------------------------------


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
    try:
        infos = await lookup_addrinfo(target.host, target.port, socket.AF_UNSPEC, _SOCK_TYPE[kind])
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
