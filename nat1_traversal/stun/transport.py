"""STUN Binding transactions over UDP and TCP.

``StunDatagramClient`` only demultiplexes: it is fed every datagram a socket
receives and keeps those that answer one of its pending transactions (magic cookie
and transaction id), so the same socket can carry other traffic (SPEC section 1,
forward mode). Retransmission follows RFC 8489 section 6.2.1 (RTO doubling from
500 ms) but never past the caller's overall deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError, StunErrorResponse
from nat1_traversal.model import Endpoint
from nat1_traversal.net import any_endpoint, connect_from, local_endpoint, recv_exactly, reuse_socket, show_addr
from nat1_traversal.stun.codec import (
    HEADER_SIZE,
    AttrType,
    ChangeRequest,
    ErrorCode,
    Message,
    MessageClass,
    Method,
    binding_request,
    body_length,
    decode,
    looks_like_stun,
    new_transaction_id,
)

log = logging.getLogger(__name__)

INITIAL_RTO = 0.5  # RFC 8489 section 6.2.1: "SHOULD be greater than 500 ms"
MAX_RTO = 4.0  # cap of the doubling; the overall deadline usually ends the transaction first


@dataclass(frozen=True, slots=True)
class BindingResult:
    """What one Binding transaction learnt.

    ``mapped``: our address as the server saw it (XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS).
    ``other``: the server's alternate address (RFC 5780 OTHER-ADDRESS or RFC 3489
    CHANGED-ADDRESS), ``None`` when it has none. ``origin``: where the server says it
    answered from (RESPONSE-ORIGIN / SOURCE-ADDRESS). ``reply_from``: where the reply
    really came from. ``local``: our socket's address when the helper owned the socket.
    """

    mapped: Endpoint
    other: Endpoint | None
    origin: Endpoint | None
    reply_from: Endpoint
    local: Endpoint | None = None


def endpoint_of(addr: tuple[str, int] | tuple[str, int, int, int]) -> Endpoint:
    return Endpoint(ipaddress.ip_address(addr[0].split("%", 1)[0]), int(addr[1]))


def result_from_message(message: Message, reply_from: Endpoint) -> BindingResult:
    """Interpret a Binding response; raises ``ProtocolError``/``StunErrorResponse``."""
    if message.method != Method.BINDING:
        raise ProtocolError("stun.bad_message", detail=f"method {message.method}")
    if message.cls == MessageClass.ERROR:
        error = message.get(AttrType.ERROR_CODE)
        code, reason = (error.code, error.reason) if isinstance(error, ErrorCode) else (0, "")
        raise StunErrorResponse("stun.error_response", code=code, reason=reason)
    if message.cls != MessageClass.SUCCESS:
        raise ProtocolError("stun.bad_message", detail=f"class {message.cls.name}")
    if message.unknown_required:
        # RFC 8489 section 6.3.4: unknown comprehension-required attributes fail the transaction.
        raise ProtocolError("stun.bad_message", detail=f"unknown attributes {message.unknown_required}")
    mapped = message.address(AttrType.XOR_MAPPED_ADDRESS, AttrType.XOR_MAPPED_ADDRESS_DRAFT, AttrType.MAPPED_ADDRESS)
    if mapped is None:
        raise ProtocolError("stun.bad_message", detail="no mapped address")
    return BindingResult(
        mapped=mapped,
        other=message.address(AttrType.OTHER_ADDRESS, AttrType.CHANGED_ADDRESS),
        origin=message.address(AttrType.RESPONSE_ORIGIN, AttrType.SOURCE_ADDRESS),
        reply_from=reply_from,
    )


class StunDatagramClient:
    """Binding transactions multiplexed over one datagram socket the caller owns."""

    def __init__(self, send: Callable[[bytes, tuple[str, int]], None]) -> None:
        self._send = send
        self._pending: dict[bytes, asyncio.Future[BindingResult]] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def handle_datagram(self, data: bytes, addr: tuple[str, int]) -> bool:
        """Consume ``data`` if it answers one of our transactions; ``False`` otherwise."""
        if not looks_like_stun(data):
            return False
        future = self._pending.get(data[8:20])
        if future is None:
            return False
        if future.done():
            return True  # a duplicate answer to a retransmission
        try:
            future.set_result(result_from_message(decode(data), endpoint_of(addr)))
        except ProtocolError as exc:
            future.set_exception(exc)
        return True

    def handle_error(self, exc: Exception) -> None:
        """An ICMP error reported on a connected socket fails every pending transaction."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NetworkError("stun.unreachable", error=exc))

    async def request(
        self,
        server: tuple[str, int],
        *,
        change_ip: bool = False,
        change_port: bool = False,
        timeout: float = 3.0,
    ) -> BindingResult:
        loop = asyncio.get_running_loop()
        tid = new_transaction_id()
        data = binding_request(tid, ChangeRequest(change_ip, change_port))
        future: asyncio.Future[BindingResult] = loop.create_future()
        self._pending[tid] = future
        deadline = loop.time() + timeout
        rto = INITIAL_RTO
        try:
            while True:
                try:
                    self._send(data, server)
                except OSError as exc:
                    raise NetworkError("stun.unreachable", error=exc.strerror or exc) from exc
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                done, _ = await asyncio.wait({future}, timeout=min(rto, remaining))
                if done:
                    return future.result()
                rto = min(rto * 2, MAX_RTO)
                if deadline - loop.time() <= 0:
                    break
            raise NetTimeout("stun.timeout", server=show_addr(server), timeout=timeout)
        finally:
            del self._pending[tid]
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: no "exception was never retrieved" noise


class StunDatagramProtocol(asyncio.DatagramProtocol):
    """A datagram protocol that only speaks STUN (other datagrams are dropped)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.client = StunDatagramClient(self._send)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing():
            raise OSError("socket closed")
        if self.transport.get_extra_info("peername") is not None:
            self.transport.sendto(data)  # connected socket: no address allowed
        else:
            self.transport.sendto(data, addr)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.client.handle_datagram(data, addr):
            log.debug("ignored %d-byte datagram from %s", len(data), addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("datagram socket error: %s", exc)
        self.client.handle_error(exc)


async def open_stun_datagram(
    local: Endpoint | None, server: tuple[str, int] | None = None
) -> tuple[asyncio.DatagramTransport, StunDatagramProtocol]:
    """A reuse-port UDP socket bound to ``local`` (``connect()``ed to ``server`` if given)
    wrapped in a ``StunDatagramProtocol``. The caller closes the transport."""
    family = socket.AF_INET6 if server is not None and ":" in server[0] else socket.AF_INET
    sock = reuse_socket("udp", local if local is not None else any_endpoint(family))
    try:
        if server is not None:
            sock.connect(server)  # UDP connect does not block
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(StunDatagramProtocol, sock=sock)
    except BaseException:
        sock.close()
        raise
    return transport, protocol


async def udp_binding(
    local: Endpoint | None,
    server: tuple[str, int],
    *,
    connected: bool,
    change_ip: bool = False,
    change_port: bool = False,
    timeout: float = 3.0,
) -> BindingResult:
    """One Binding transaction from a socket of its own bound to ``local``.

    ``connected``: ``connect()`` the socket to ``server`` so that, on a port shared
    with a service, the kernel delivers the reply to us (SPEC section 1). A
    connected socket cannot receive the answer to a CHANGE-REQUEST.
    """
    transport, protocol = await open_stun_datagram(local, server if connected else None)
    try:
        result = await protocol.client.request(server, change_ip=change_ip, change_port=change_port, timeout=timeout)
        sock = transport.get_extra_info("socket")
        return _with_local(result, sock)
    finally:
        transport.close()


def _with_local(result: BindingResult, sock: socket.socket | None) -> BindingResult:
    if sock is None:
        return result
    return BindingResult(result.mapped, result.other, result.origin, result.reply_from, local_endpoint(sock))


async def tcp_request(sock: socket.socket, timeout: float = 3.0) -> BindingResult:
    """One Binding transaction on a connected TCP socket (RFC 8489 section 6.2.2:
    no retransmission over a reliable transport). The socket stays open."""

    async def exchange() -> BindingResult:
        loop = asyncio.get_running_loop()
        tid = new_transaction_id()
        await loop.sock_sendall(sock, binding_request(tid))
        while True:
            header = await recv_exactly(sock, HEADER_SIZE)
            body = await recv_exactly(sock, body_length(header))
            message = decode(header + body)
            if message.transaction_id == tid:
                return result_from_message(message, endpoint_of(peer))
            log.debug("TCP STUN: skipped a message of another transaction")

    try:
        # Asked once, up front: after a reset getpeername() itself fails (ENOTCONN).
        peer = sock.getpeername()
        result = await asyncio.wait_for(exchange(), timeout)
    except asyncio.TimeoutError as exc:
        raise NetTimeout("stun.timeout", server=show_addr(peer), timeout=timeout) from exc
    except OSError as exc:
        raise NetworkError("stun.unreachable", error=exc.strerror or exc) from exc
    return _with_local(result, sock)


async def tcp_binding_connection(
    local: Endpoint | None, server: tuple[str, int], timeout: float = 3.0
) -> tuple[BindingResult, socket.socket]:
    """Connect from ``local`` and do one Binding; the caller keeps (and closes) the socket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    sock = await connect_from(local if local is not None else any_endpoint(family), server, timeout)
    try:
        result = await tcp_request(sock, max(deadline - loop.time(), 0.001))
    except BaseException:
        abort(sock)
        raise
    return result, sock


async def tcp_binding(local: Endpoint | None, server: tuple[str, int], timeout: float = 3.0) -> BindingResult:
    """Connect from ``local``, do one Binding, close the connection."""
    result, sock = await tcp_binding_connection(local, server, timeout)
    abort(sock)
    return result


def abort(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): a probe connection leaves no TIME_WAIT behind, so the
    same local port can reach the same server again at once (a re-test, a remap)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
