"""STUN transactions against in-process fake servers on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError, StunErrorResponse
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import resolve, reuse_socket
from nat1_traversal.stun import codec
from nat1_traversal.stun.client import ServerList, first_answer
from nat1_traversal.stun.codec import Attribute, AttrType, ErrorCode, Message, MessageClass, Method
from nat1_traversal.stun.transport import BindingResult, StunDatagramClient, tcp_binding, udp_binding

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
Reply = Callable[[Message, tuple[str, int]], "bytes | None"]


def success(request: Message, addr: tuple[str, int], *, other: bool = True) -> bytes:
    attributes = [Attribute(AttrType.XOR_MAPPED_ADDRESS, Endpoint(ipaddress.ip_address(addr[0]), addr[1]))]
    if other:
        attributes.append(Attribute(AttrType.OTHER_ADDRESS, Endpoint(ipaddress.ip_address("127.0.0.2"), 3479)))
    return codec.encode(
        Message(Method.BINDING, MessageClass.SUCCESS, request.transaction_id, tuple(attributes)), fingerprint=True
    )


class FakeUdpServer(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        answer = self.reply(codec.decode(data), addr)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


StartServer = Callable[[Reply], asyncio.Future[tuple[FakeUdpServer, tuple[str, int]]]]


@pytest_asyncio.fixture
async def udp_server() -> AsyncIterator[StartServer]:
    transports: list[asyncio.BaseTransport] = []

    async def start(reply: Reply) -> tuple[FakeUdpServer, tuple[str, int]]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: FakeUdpServer(reply), local_addr=("127.0.0.1", 0)
        )
        transports.append(transport)
        return protocol, transport.get_extra_info("sockname")

    yield start  # type: ignore[misc]
    for transport in transports:
        transport.close()


@pytest.mark.asyncio
async def test_udp_binding_connected(udp_server: StartServer) -> None:
    server, addr = await udp_server(success)
    result = await udp_binding(Endpoint(LOOPBACK, 0), addr, connected=True, timeout=2)
    assert result.local is not None and result.mapped == result.local
    assert result.other == Endpoint(ipaddress.IPv4Address("127.0.0.2"), 3479)
    assert result.reply_from == Endpoint(LOOPBACK, addr[1])
    assert server.requests == 1


@pytest.mark.asyncio
async def test_retransmits_until_answered(udp_server: StartServer) -> None:
    def third_time(request: Message, addr: tuple[str, int]) -> bytes | None:
        return success(request, addr) if server.requests >= 3 else None

    server, addr = await udp_server(third_time)
    started = time.monotonic()
    await udp_binding(None, addr, connected=False, timeout=3)
    # RTO 0.5 s then 1.0 s: the third request leaves at about 1.5 s.
    assert server.requests == 3
    assert 1.3 < time.monotonic() - started < 2.5


@pytest.mark.asyncio
async def test_timeout_is_an_overall_deadline(udp_server: StartServer) -> None:
    server, addr = await udp_server(lambda request, addr: None)
    started = time.monotonic()
    with pytest.raises(NetTimeout):
        await udp_binding(None, addr, connected=False, timeout=0.8)
    assert time.monotonic() - started < 1.2
    assert server.requests == 2  # at 0 and 0.5 s


@pytest.mark.asyncio
async def test_error_response_and_garbage(udp_server: StartServer) -> None:
    def error(request: Message, addr: tuple[str, int]) -> bytes:
        attributes = (Attribute(AttrType.ERROR_CODE, ErrorCode(420, "Unknown Attribute")),)
        return codec.encode(Message(Method.BINDING, MessageClass.ERROR, request.transaction_id, attributes))

    _, addr = await udp_server(error)
    with pytest.raises(StunErrorResponse) as caught:
        await udp_binding(None, addr, connected=True, timeout=1)
    assert caught.value.fields["code"] == 420

    def no_address(request: Message, addr: tuple[str, int]) -> bytes:
        return codec.encode(Message(Method.BINDING, MessageClass.SUCCESS, request.transaction_id))

    _, addr = await udp_server(no_address)
    with pytest.raises(ProtocolError):
        await udp_binding(None, addr, connected=True, timeout=1)


@pytest.mark.asyncio
async def test_demultiplexer_only_takes_its_own_replies() -> None:
    sent: list[tuple[bytes, tuple[str, int]]] = []
    client = StunDatagramClient(lambda data, addr: sent.append((data, addr)))
    task = asyncio.ensure_future(client.request(("127.0.0.1", 9), timeout=2))
    await asyncio.sleep(0)  # let the request go out
    request = codec.decode(sent[0][0])
    assert not client.handle_datagram(b"\x01\x02 game traffic" * 3, ("127.0.0.1", 9))
    other = Message(Method.BINDING, MessageClass.SUCCESS, bytes(12))
    assert not client.handle_datagram(codec.encode(other), ("127.0.0.1", 9))  # someone else's transaction
    assert not task.done()
    assert client.handle_datagram(success(request, ("192.0.2.5", 4000)), ("127.0.0.1", 9))
    result = await task
    assert result.mapped == Endpoint(ipaddress.IPv4Address("192.0.2.5"), 4000)
    assert client.pending == 0
    # A late duplicate is no longer ours.
    assert not client.handle_datagram(success(request, ("192.0.2.5", 4000)), ("127.0.0.1", 9))


@pytest.mark.asyncio
async def test_cancelled_request_leaves_nothing_pending() -> None:
    client = StunDatagramClient(lambda data, addr: None)
    task = asyncio.ensure_future(client.request(("127.0.0.1", 9), timeout=5))
    await asyncio.sleep(0.01)
    assert client.pending == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.pending == 0


async def _tcp_server(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object]) -> asyncio.Server:
    return await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_tcp_binding_reads_fragmented_frames() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(20)
        request = codec.decode(header + await reader.readexactly(int.from_bytes(header[2:4], "big")))
        peer = writer.get_extra_info("peername")
        stray = codec.encode(Message(Method.BINDING, MessageClass.SUCCESS, bytes(12)))
        answer = stray + success(request, peer)
        for i in range(0, len(answer), 7):  # dribble it out in 7-byte pieces
            writer.write(answer[i : i + 7])
            await writer.drain()
            await asyncio.sleep(0.001)
        writer.close()

    server = await _tcp_server(handler)
    try:
        addr = server.sockets[0].getsockname()
        result = await tcp_binding(Endpoint(LOOPBACK, 0), addr, timeout=2)
        assert result.local is not None and result.mapped == result.local
        # The same local port can reach the same server again at once (closed with RST: no TIME_WAIT).
        again = await tcp_binding(result.local, addr, timeout=2)
        assert again.mapped == result.mapped
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_tcp_binding_garbage_and_close() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(20)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await _tcp_server(garbage)
    try:
        with pytest.raises(ProtocolError):
            await tcp_binding(None, server.sockets[0].getsockname(), timeout=2)
    finally:
        server.close()
        await server.wait_closed()


def test_server_list_learns() -> None:
    a, b, c = HostPort("a", 1), HostPort("b", 1), HostPort("c", 1)
    servers = ServerList([a, b, c, a])
    assert servers.ordered() == [a, b, c]
    servers.mark_bad(a)
    assert servers.ordered() == [b, c, a]
    servers.mark_good(c)
    assert servers.ordered() == [c, b, a]
    servers.mark_bad(c)
    assert servers.ordered() == [b, a, c]  # fewer failures first, ties in configured order


async def discover(
    kind: str, servers: ServerList | list[HostPort], *, timeout: float, stagger: float = 0.6
) -> tuple[BindingResult, HostPort]:
    """The staggered race over ``servers``, each attempt one Binding from an ephemeral port."""

    async def attempt(server: HostPort) -> BindingResult:
        addr = (server.host, server.port)
        if kind == "udp":
            return await udp_binding(None, addr, connected=True, timeout=timeout)
        return await tcp_binding(None, addr, timeout=timeout)

    return await first_answer(servers, attempt, stagger=stagger)


@pytest.mark.asyncio
async def test_discover_skips_silent_server_and_remembers(udp_server: StartServer) -> None:
    silent, silent_addr = await udp_server(lambda request, addr: None)
    _good, good_addr = await udp_server(success)
    servers = ServerList([HostPort("127.0.0.1", silent_addr[1]), HostPort("127.0.0.1", good_addr[1])])
    started = time.monotonic()
    result, server = await discover("udp", servers, timeout=1.0, stagger=0.2)
    assert result.reply_from.port == good_addr[1]
    assert server == HostPort("127.0.0.1", good_addr[1])
    assert time.monotonic() - started < 0.8  # staggered: the second did not wait for the first's timeout
    assert servers.ordered()[0] == server
    # Next time the good one goes first, and alone suffices.
    before = silent.requests
    await discover("udp", servers, timeout=1.0, stagger=0.2)
    assert silent.requests == before


@pytest.mark.asyncio
async def test_discover_all_fail_raises_network_error() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        servers = [HostPort("127.0.0.1", holder.getsockname()[1])]
        with pytest.raises(NetworkError) as caught:
            await discover("tcp", servers, timeout=0.5)  # nothing listens on TCP: refused
        assert caught.value.key == "stun.no_server"
    finally:
        holder.close()


@pytest.mark.asyncio
async def test_resolve_literal_and_family() -> None:
    assert await resolve(HostPort("127.0.0.1", 3478), "udp") == ("127.0.0.1", 3478)
    assert await resolve(HostPort("localhost", 80), "tcp") == ("127.0.0.1", 80)
    with pytest.raises(NetworkError):
        await resolve(HostPort("::1", 1), "udp", socket.AF_INET)


def test_reuse_socket_shares_a_port() -> None:
    first = reuse_socket("udp", Endpoint(LOOPBACK, 0))
    try:
        port = first.getsockname()[1]
        second = reuse_socket("udp", Endpoint(LOOPBACK, port))
        assert second.getsockname()[1] == port
        assert not second.getblocking()
        second.close()
    finally:
        first.close()
