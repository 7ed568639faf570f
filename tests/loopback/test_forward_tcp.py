"""TCP forwarder on loopback: integrity under load, half-close, resets, backpressure,
timeouts, the connection cap, PROXY headers on the wire and the log lines."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import TcpForwarder
from nat1_traversal.forward.proxy_protocol import header_v1, header_v2
from nat1_traversal.model import Endpoint
from tests.support.util import wait_until

LOOP4 = ipaddress.ip_address("127.0.0.1")
LOOP6 = ipaddress.ip_address("::1")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# Every test runs on the standard loop and on uvloop (the CLI uses it when installed).
# pytest-asyncio 1.x deprecates this override in favour of a conftest hook.
pytestmark = pytest.mark.filterwarnings("ignore:.*event_loop_policy.*:DeprecationWarning")


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    if request.param == "uvloop":
        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def server(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[Endpoint]:
    srv = await asyncio.start_server(handler, host, 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield Endpoint(ipaddress.ip_address(host), port)
    finally:
        srv.close()


@asynccontextmanager
async def forwarder(remote: Endpoint, **options: Any) -> AsyncIterator[TcpForwarder]:
    ip = LOOP6 if remote.family_v6 else LOOP4
    fwd = TcpForwarder(Endpoint(ip, 0), remote, **options)
    await fwd.start()
    try:
        yield fwd
    finally:
        await fwd.aclose()


async def connect(fwd: TcpForwarder) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*fwd.bound.sockaddr())


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 10)


@pytest.mark.asyncio
async def test_many_concurrent_connections_keep_every_byte() -> None:
    size, count = 1 << 20, 50

    async def one(fwd: TcpForwarder) -> None:
        payload = os.urandom(size)
        reader, writer = await connect(fwd)

        async def send() -> None:
            for i in range(0, size, 100_000):
                writer.write(payload[i : i + 100_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await read_all(reader)
        await sender
        writer.close()
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()

    async with server(echo) as remote, forwarder(remote) as fwd:
        await asyncio.wait_for(asyncio.gather(*(one(fwd) for _ in range(count))), 60)
        await wait_until(lambda: fwd.connections == 0)


@pytest.mark.asyncio
async def test_half_close_client_first_keeps_the_reply_flowing() -> None:
    got_eof = asyncio.Event()

    async def late_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read()  # until the client's FIN
        got_eof.set()
        await asyncio.sleep(0.05)
        writer.write(b"reply to " + request)
        await writer.drain()
        writer.close()

    async with server(late_reply) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        writer.write(b"question")
        writer.write_eof()
        await asyncio.wait_for(got_eof.wait(), 5)
        assert await read_all(reader) == b"reply to question"
        writer.close()


@pytest.mark.asyncio
async def test_half_close_server_first_keeps_the_upload_flowing() -> None:
    upload: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def server_done_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"banner")
        writer.write_eof()
        upload.set_result(await reader.read())
        writer.close()

    async with server(server_done_first) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        assert await read_all(reader) == b"banner"  # EOF seen, our direction still open
        for _ in range(20):
            writer.write(b"x" * 1000)
        await writer.drain()
        writer.write_eof()
        assert await asyncio.wait_for(upload, 5) == b"x" * 20_000
        writer.close()


@pytest.mark.asyncio
async def test_reset_from_remote_reaches_the_client() -> None:
    async def rst(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with server(rst) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        writer.write(b"hello")
        with pytest.raises(ConnectionResetError):
            await read_all(reader)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)


@pytest.mark.asyncio
async def test_reset_from_client_reaches_the_remote() -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        try:
            await reader.read()
            outcome.set_result("eof")
        except ConnectionResetError:
            outcome.set_result("reset")
        writer.close()

    async with server(watch) as remote, forwarder(remote) as fwd:
        _reader, writer = await connect(fwd)
        writer.write(b"hello")
        await writer.drain()
        await wait_until(lambda: all(p.remote is not None for p in fwd._pairs))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        assert await asyncio.wait_for(outcome, 5) == "reset"
        await wait_until(lambda: fwd.connections == 0)


@pytest.mark.asyncio
async def test_slow_reader_pauses_the_remote_and_memory_stays_bounded() -> None:
    total = 64 << 20
    sent = asyncio.Event()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b"z" * 65536
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        writer.close()
        sent.set()

    async with server(flood) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        await wait_until(lambda: len(fwd._pairs) == 1 and next(iter(fwd._pairs)).remote is not None)
        pair = next(iter(fwd._pairs))
        assert pair.remote is not None and pair.remote.transport is not None
        remote_t = pair.remote.transport
        client_t = pair.client.transport
        assert client_t is not None
        # The client reads nothing: the forwarder must stop reading from remote.
        await wait_until(lambda: not remote_t.is_reading())
        assert client_t.get_write_buffer_size() < 1 << 20
        assert not sent.is_set()
        # Now drain: every byte arrives and reading resumes.
        received = 0
        while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
            received += len(chunk)
        assert received == total
        writer.close()


@pytest.mark.asyncio
async def test_refused_remote_closes_the_client(caplog: pytest.LogCaptureFixture) -> None:
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))
    dead = Endpoint(LOOP4, placeholder.getsockname()[1])  # bound, never listening
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    try:
        async with forwarder(dead) as fwd:
            reader, writer = await connect(fwd)
            with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1), 5)
            writer.close()
            await wait_until(lambda: fwd.connections == 0)
    finally:
        placeholder.close()
    assert any("失败" in r.getMessage() and str(dead) in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_connect_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")

    loop = asyncio.get_running_loop()
    real = loop.create_connection

    async with server(echo) as remote, forwarder(remote, connect_timeout=0.2) as fwd:

        async def hang_towards_remote(factory: Any, host: Any = None, port: Any = None, **kw: Any) -> Any:
            if (host, port) == remote.sockaddr():  # a SYN nobody answers
                await asyncio.Event().wait()
            return await real(factory, host, port, **kw)

        loop.create_connection = hang_towards_remote  # type: ignore[method-assign]
        try:
            reader, writer = await connect(fwd)
            with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1), 5)
            writer.close()
        finally:
            del loop.create_connection  # type: ignore[method-assign]
    assert any("超时" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_connection_cap(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with server(echo) as remote, forwarder(remote, max_connections=2) as fwd:
        clients = [await connect(fwd) for _ in range(2)]
        for reader, writer in clients:
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        reader, writer = await connect(fwd)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
        assert fwd.connections == 2
        assert sum("上限" in r.getMessage() for r in caplog.records) == 1
        clients[0][1].close()
        await wait_until(lambda: fwd.connections == 1)
        reader, writer = await connect(fwd)
        writer.write(b"again")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"again"
        for _, w in [*clients, (reader, writer)]:
            w.close()


@pytest.mark.asyncio
async def test_idle_timeout_closes_idle_but_not_busy_connections() -> None:
    async with server(echo) as remote, forwarder(remote, idle_timeout=0.3) as fwd:
        idle_r, idle_w = await connect(fwd)
        busy_r, busy_w = await connect(fwd)
        idle_w.write(b"a")
        assert await idle_r.readexactly(1) == b"a"
        for _ in range(8):  # 0.8 s of traffic, one byte every 0.1 s
            busy_w.write(b"b")
            assert await asyncio.wait_for(busy_r.readexactly(1), 5) == b"b"
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(idle_r.read(), 5) == b""
        assert fwd.connections == 1
        busy_w.close()
        idle_w.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_proxy_header_comes_first(version: str, host: str) -> None:
    first: asyncio.Future[tuple[bytes, tuple[object, ...]]] = asyncio.get_running_loop().create_future()
    expected_len = {"v1": None, "v2": 28 if host == "127.0.0.1" else 52}[version]

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if expected_len is None:
            header = await reader.readline()
        else:
            header = await reader.readexactly(expected_len)
        rest = await reader.read()
        first.set_result((header + rest, writer.get_extra_info("peername")))
        writer.close()

    async with server(capture, host) as remote, forwarder(remote, proxy_protocol=version) as fwd:
        _reader, writer = await connect(fwd)
        writer.write(b"payload")
        writer.write_eof()
        data, _ = await asyncio.wait_for(first, 5)
        client = writer.get_extra_info("sockname")
        build = header_v1 if version == "v1" else header_v2
        assert data == build(client, fwd.bound.sockaddr()) + b"payload"
        writer.close()


@pytest.mark.asyncio
async def test_log_lines_name_the_client_and_the_local_port(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nat1_traversal.forward")
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def note_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(writer.get_extra_info("peername")[1])
        await echo(reader, writer)

    async with server(note_peer) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        writer.write(b"12345")
        writer.write_eof()
        assert await read_all(reader) == b"12345"
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    via = await seen
    client = f"127.0.0.1:{writer.get_extra_info('sockname')[1]}"
    opened = [r.getMessage() for r in caplog.records if "新客户端" in r.getMessage()]
    closed = [r.getMessage() for r in caplog.records if "已断开" in r.getMessage()]
    assert len(opened) == 1 and client in opened[0] and str(via) in opened[0]
    assert len(closed) == 1 and client in closed[0] and "5 字节" in closed[0]


@pytest.mark.asyncio
async def test_port_shared_with_reuseport_and_busy_port_error() -> None:
    async with server(echo) as remote, forwarder(remote) as fwd:
        # The keeper binds the same port for its own connections.
        keeper = socket.socket()
        keeper.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        keeper.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        keeper.bind(fwd.bound.sockaddr())
        keeper.close()
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    try:
        busy = TcpForwarder(Endpoint(LOOP4, plain.getsockname()[1]), Endpoint(LOOP4, 9))
        with pytest.raises(NetworkError) as info:
            await busy.start()
        assert "无法监听" in str(info.value)
    finally:
        plain.close()
