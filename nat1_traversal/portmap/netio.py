"""The only doors from this package to the network: UDP to the gateway, HTTP to it, SSDP.

Every destination passes :func:`guard` first. In the product it lets everything
through; the test suite replaces it so that no test can reach a real router.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from nat1_traversal.errors import NetTimeout, NetworkError, PortmapError
from nat1_traversal.portmap import igd

Address = tuple[str, int]
T = TypeVar("T")


def guard(destination: Address) -> None:
    """Called before every packet this package sends; the tests' fixture makes it strict."""


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Address] | OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait((data, (str(addr[0]), int(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.queue.put_nowait(exc)


async def _receive(inbox: _Inbox, wait: float) -> tuple[bytes, Address] | OSError | None:
    try:
        return await asyncio.wait_for(inbox.queue.get(), wait)
    except asyncio.TimeoutError:
        return None


async def udp_exchange(
    peer: Address,
    request: bytes,
    accept: Callable[[bytes], T],
    *,
    method: str,
    deadline: float,
    first_wait: float = 0.25,
) -> T:
    """Send ``request`` to ``peer`` and return ``accept(reply)``.

    Retransmits on a doubling timer (RFC 6886 §3.1 starts at 250 ms) within one
    overall ``deadline``. The socket is connected, so the kernel only hands us
    datagrams from ``peer``; a reply ``accept`` rejects (say, a stale nonce) is
    skipped, and reported only if nothing better comes. ICMP port unreachable
    means nothing listens there: that fails at once.
    """
    guard(peer)
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(_Inbox, remote_addr=peer)
    rejected: PortmapError | None = None
    end = time.monotonic() + deadline
    wait = first_wait
    try:
        while (left := end - time.monotonic()) > 0:
            transport.sendto(request)
            step_end = time.monotonic() + min(wait, left)
            wait *= 2
            while (step := step_end - time.monotonic()) > 0:
                got = await _receive(inbox, step)
                if got is None:
                    break
                if isinstance(got, OSError):
                    raise NetworkError("portmap.unreachable", gateway=peer[0], error=got.strerror or got) from got
                data, source = got
                if source != peer:
                    continue
                try:
                    return accept(data)
                except PortmapError as exc:
                    if exc.key == "portmap.bad_version":
                        raise  # another protocol answers here: let the caller fall back now
                    rejected = rejected or exc
    finally:
        transport.close()
    if rejected is not None:
        raise rejected
    raise NetTimeout("portmap.timeout", gateway=peer[0], timeout=deadline, method=method)


async def ssdp_search(
    gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address, *, deadline: float
) -> igd.SsdpReply:
    """M-SEARCH for an IGD; only a reply from ``gateway`` whose LOCATION is on ``gateway`` counts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.bind((str(own), 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, own.packed)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    transport, inbox = await loop.create_datagram_endpoint(_Inbox, sock=sock)
    end = time.monotonic() + deadline
    wait = 0.5
    try:
        while (left := end - time.monotonic()) > 0:
            # Multicast, as UDA 1.1 §1.3.2 asks, and unicast to the gateway, which many answer faster.
            for target in igd.SEARCH_TARGETS:
                for destination in (igd.SSDP_GROUP, (str(gateway), igd.SSDP_GROUP[1])):
                    guard(destination)
                    transport.sendto(igd.msearch(target), destination)
            step_end = time.monotonic() + min(wait, left)
            wait *= 2
            while (step := step_end - time.monotonic()) > 0:
                got = await _receive(inbox, step)
                if got is None:
                    break
                if isinstance(got, OSError):
                    continue
                data, source = got
                if source[0] != str(gateway):
                    continue  # a printer, a TV, another vendor's box: not our router
                with contextlib.suppress(PortmapError):
                    return igd.parse_ssdp(data, gateway)
    finally:
        transport.close()
    raise NetTimeout("portmap.timeout", gateway=str(gateway), timeout=deadline, method="UPnP")


async def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    deadline: float,
    limit: int = igd.MAX_DESCRIPTION,
) -> igd.HttpResponse:
    """One HTTP/1.1 exchange with ``Connection: close``, bounded in time and in size."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    guard((host, port))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", "User-Agent: nat1_traversal"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(raw)
            await writer.drain()
            data = bytearray()
            while chunk := await reader.read(16384):
                data += chunk
                if len(data) > limit + 16384:
                    raise PortmapError("portmap.bad_reply", method="UPnP", detail=f"HTTP reply over {limit} bytes")
            return bytes(data)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    try:
        data = await asyncio.wait_for(exchange(), deadline)
    except asyncio.TimeoutError as exc:
        raise NetTimeout("portmap.timeout", gateway=host, timeout=deadline, method="UPnP") from exc
    except OSError as exc:
        raise NetworkError("portmap.unreachable", gateway=host, error=exc.strerror or exc) from exc
    return igd.parse_http(data, limit)
