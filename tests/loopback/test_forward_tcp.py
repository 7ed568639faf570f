"""TCP forwarder on loopback, one suite over every relay path: the protocol path on
the standard loop and on uvloop, and the zero-copy splice path (Linux, standard
loop). Integrity under load, half-close, resets, backpressure, timeouts, the
connection cap, PROXY headers on the wire, descriptor leaks and the log lines."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import hashlib
import ipaddress
import logging
import os
import socket
import struct
import sys
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import TcpForwarder
from nat1_traversal.forward import splice as splice_mod
from nat1_traversal.forward import tcp as tcp_mod
from nat1_traversal.forward.proxy_protocol import header_v1, header_v2
from nat1_traversal.forward.tcp_pair import READ_BUFFER_SIZE
from nat1_traversal.model import Endpoint
from tests.support.util import wait_until

LOOP4 = ipaddress.ip_address("127.0.0.1")
LOOP6 = ipaddress.ip_address("::1")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MiB = 1 << 20
SPLICE_OK = sys.platform.startswith("linux") and hasattr(os, "splice")

# Every test runs on each path: "asyncio" and "uvloop" relay through the protocols
# (splice switched off on the standard loop), "splice" moves to splice(2) once a
# direction has carried 64 KiB (0 where a test asks for it).
# pytest-asyncio 1.x deprecates this override in favour of a conftest hook.
pytestmark = pytest.mark.filterwarnings("ignore:.*event_loop_policy.*:DeprecationWarning")


@pytest.fixture(
    params=["asyncio", "uvloop", pytest.param("splice", marks=pytest.mark.skipif(not SPLICE_OK, reason="Linux only"))]
)
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def event_loop_policy(path: str) -> asyncio.AbstractEventLoopPolicy:
    if path == "uvloop":
        policy: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
        return policy
    return asyncio.DefaultEventLoopPolicy()


@pytest.fixture
def spliced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts splice relays started (the splice path must really run, the others never)."""
    started: list[int] = []
    original = splice_mod.SpliceRelay.start

    def start(self: splice_mod.SpliceRelay) -> None:
        started.append(1)
        original(self)

    monkeypatch.setattr(splice_mod.SpliceRelay, "start", start)
    return started


def check_path(path: str, spliced: list[int], at_least: int = 1) -> None:
    if path == "splice":
        assert len(spliced) >= at_least, "the splice path did not run"
    else:
        assert not spliced, "the protocol path switched to splice"


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
async def forwarder(
    path: str, remote: Endpoint, *, splice_after: int = 64 * 1024, **options: Any
) -> AsyncIterator[TcpForwarder]:
    ip = LOOP6 if remote.family_v6 else LOOP4
    fwd = TcpForwarder(Endpoint(ip, 0), remote, **options)
    await fwd.start()
    if path == "uvloop":
        assert fwd.splice_after == tcp_mod._NEVER, "uvloop keeps the protocol path"
    else:
        assert fwd.splice_after == tcp_mod.SPLICE_AFTER, "splice is on for the standard loop on Linux"
        fwd.splice_after = splice_after if path == "splice" else tcp_mod._NEVER
    try:
        yield fwd
    finally:
        await fwd.aclose()


async def connect(fwd: TcpForwarder) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*fwd.bound.sockaddr())


async def send_all(writer: asyncio.StreamWriter, payload: bytes, eof: bool = True) -> None:
    for i in range(0, len(payload), 100_000):
        writer.write(payload[i : i + 100_000])
        await writer.drain()
    if eof:
        writer.write_eof()


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 20)


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def unread(fd: int) -> int:
    """Bytes the kernel holds for a socket that its owner has not read yet."""
    count = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    return int(count)


def reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_uvloop_keeps_the_protocol_path() -> None:
    loop = uvloop.new_event_loop()
    try:
        assert not splice_mod.splice_available(loop)
    finally:
        loop.close()
    standard = asyncio.SelectorEventLoop()
    try:
        assert splice_mod.splice_available(standard) == SPLICE_OK
    finally:
        standard.close()


@pytest.mark.asyncio
async def test_many_concurrent_connections_keep_every_byte(path: str, spliced: list[int]) -> None:
    size, count = (8 * MiB, 8) if path == "splice" else (MiB, 50)

    async def one(fwd: TcpForwarder) -> None:
        payload = os.urandom(size)
        reader, writer = await connect(fwd)
        sender = asyncio.create_task(send_all(writer, payload))
        received = await read_all(reader)
        await sender
        writer.close()
        assert len(received) == size and digest(received) == digest(payload)

    async with server(echo) as remote, forwarder(path, remote) as fwd:
        await asyncio.wait_for(asyncio.gather(*(one(fwd) for _ in range(count))), 60)
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced, at_least=count)


@pytest.mark.asyncio
async def test_half_close_client_first_keeps_the_reply_flowing(path: str, spliced: list[int]) -> None:
    upload, reply = os.urandom(2 * MiB), os.urandom(3 * MiB)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def late_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.set_result(await reader.read())  # until the client's FIN
        await asyncio.sleep(0.05)
        await send_all(writer, b"reply to " + reply)
        writer.close()

    async with server(late_reply) as remote, forwarder(path, remote) as fwd:
        reader, writer = await connect(fwd)
        await send_all(writer, upload)
        assert digest(await asyncio.wait_for(got, 10)) == digest(upload)
        assert digest(await read_all(reader)) == digest(b"reply to " + reply)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_half_close_server_first_keeps_the_upload_flowing(path: str, spliced: list[int]) -> None:
    download, upload = b"banner" + os.urandom(2 * MiB), os.urandom(3 * MiB)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def server_done_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send_all(writer, download)  # then EOF, and keep reading
        got.set_result(await reader.read())
        writer.close()

    async with server(server_done_first) as remote, forwarder(path, remote) as fwd:
        reader, writer = await connect(fwd)
        assert digest(await read_all(reader)) == digest(download)  # EOF seen, our direction still open
        await send_all(writer, upload)
        assert digest(await asyncio.wait_for(got, 10)) == digest(upload)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_reset_from_remote_reaches_the_client(path: str, spliced: list[int]) -> None:
    async def rst(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(MiB)
        reset(writer)

    async with server(rst) as remote, forwarder(path, remote) as fwd:
        reader, writer = await connect(fwd)
        await send_all(writer, os.urandom(MiB), eof=False)
        with pytest.raises(ConnectionResetError):
            await read_all(reader)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_reset_from_client_reaches_the_remote(path: str, spliced: list[int]) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(MiB)
        try:
            await reader.read()
            outcome.set_result("eof")
        except ConnectionResetError:
            outcome.set_result("reset")
        writer.close()

    async with server(watch) as remote, forwarder(path, remote) as fwd:
        _reader, writer = await connect(fwd)
        await send_all(writer, os.urandom(MiB), eof=False)
        if path == "splice":
            await wait_until(lambda: bool(spliced))
        else:
            await wait_until(lambda: all(p.remote is not None for p in fwd._pairs))
        reset(writer)
        assert await asyncio.wait_for(outcome, 5) == "reset"
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_slow_reader_pauses_the_remote_and_memory_stays_bounded(path: str, spliced: list[int]) -> None:
    total = 128 * MiB if path == "splice" else 64 * MiB
    sent = asyncio.Event()

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b"z" * 65536
        for _ in range(total // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        writer.close()
        sent.set()

    async with server(flood) as remote, forwarder(path, remote) as fwd:
        reader, writer = await connect(fwd)
        if path == "splice":
            await wait_until(lambda: bool(spliced))
            # The client reads nothing: socket buffers and one pipe fill, then the
            # forwarder stops reading and the remote cannot finish.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(sent.wait(), 1.0)
        else:
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
        while chunk := await asyncio.wait_for(reader.read(MiB), 10):
            received += len(chunk)
        assert received == total
        writer.close()
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_refused_remote_closes_the_client(path: str, caplog: pytest.LogCaptureFixture) -> None:
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))
    dead = Endpoint(LOOP4, placeholder.getsockname()[1])  # bound, never listening
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    try:
        async with forwarder(path, dead) as fwd:
            reader, writer = await connect(fwd)
            with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1), 5)
            writer.close()
            await wait_until(lambda: fwd.connections == 0)
    finally:
        placeholder.close()
    assert any("失败" in r.getMessage() and str(dead) in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_connect_timeout(
    path: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")

    loop = asyncio.get_running_loop()
    real = loop.create_connection

    async with server(echo) as remote, forwarder(path, remote, connect_timeout=0.2) as fwd:

        async def hang_towards_remote(factory: Any, host: Any = None, port: Any = None, **kw: Any) -> Any:
            if (host, port) == remote.sockaddr():  # a SYN nobody answers
                await asyncio.Event().wait()
            return await real(factory, host, port, **kw)

        monkeypatch.setattr(loop, "create_connection", hang_towards_remote)
        reader, writer = await connect(fwd)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
    assert any("超时" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_client_is_not_read_while_remote_connects(
    path: str, spliced: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until remote is connected the forwarder reads at most one buffer from the client
    (CPython before the fix of gh-103607 kept reading after a pause in connection_made(),
    so everything the client sent piled up in memory and no pair moved to splice)."""
    loop = asyncio.get_running_loop()
    real = loop.create_connection
    connecting = asyncio.Event()
    go_on = asyncio.Event()
    received: asyncio.Future[bytes] = loop.create_future()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.set_result(digest(await reader.read()))
        writer.close()

    async with server(sink) as remote, forwarder(path, remote) as fwd:

        async def slow_towards_remote(factory: Any, host: Any = None, port: Any = None, **kw: Any) -> Any:
            if (host, port) == remote.sockaddr():
                connecting.set()
                await go_on.wait()
            return await real(factory, host, port, **kw)

        monkeypatch.setattr(loop, "create_connection", slow_towards_remote)
        _reader, writer = await connect(fwd)
        payload = os.urandom(16 * MiB)
        writer.write(payload)  # the transport keeps what the kernel does not take yet
        await asyncio.wait_for(connecting.wait(), 5)
        (pair,) = fwd._pairs
        assert pair.client.transport is not None
        forwarder_end = pair.client.transport.get_extra_info("socket").fileno()
        await wait_until(lambda: unread(forwarder_end) > 0)  # the client's bytes are there
        for _ in range(50):  # loop iterations in which a reading transport would read
            await asyncio.sleep(0)
        assert pair.client.nbytes <= READ_BUFFER_SIZE
        assert writer.transport.get_write_buffer_size() > 0
        go_on.set()
        await writer.drain()
        writer.write_eof()
        assert await asyncio.wait_for(received, 20) == digest(payload)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_connection_cap(path: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with server(echo) as remote, forwarder(path, remote, max_connections=2) as fwd:
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
async def test_idle_timeout_closes_idle_but_not_busy_connections(path: str, spliced: list[int]) -> None:
    async with server(echo) as remote, forwarder(path, remote, idle_timeout=0.3) as fwd:
        idle_r, idle_w = await connect(fwd)
        payload = os.urandom(MiB)  # enough to move the idle one to splice on that path
        sender = asyncio.create_task(send_all(idle_w, payload, eof=False))
        assert await asyncio.wait_for(idle_r.readexactly(MiB), 10) == payload
        await sender
        check_path(path, spliced)
        busy_r, busy_w = await connect(fwd)
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
async def test_proxy_header_comes_first(path: str, spliced: list[int], version: str, host: str) -> None:
    first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    expected_len = {"v1": None, "v2": 28 if host == "127.0.0.1" else 52}[version]
    payload = os.urandom(4 * MiB)

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if expected_len is None:
            header = await reader.readline()
        else:
            header = await reader.readexactly(expected_len)
        rest = await reader.read()
        first.set_result(header + rest)
        writer.close()

    async with server(capture, host) as remote, forwarder(path, remote, proxy_protocol=version) as fwd:
        _reader, writer = await connect(fwd)
        await send_all(writer, payload)
        data = await asyncio.wait_for(first, 10)
        client = writer.get_extra_info("sockname")
        build = header_v1 if version == "v1" else header_v2
        header = build(client, fwd.bound.sockaddr())
        assert data[: len(header)] == header
        assert digest(data[len(header) :]) == digest(payload)
        writer.close()
    check_path(path, spliced)


@pytest.mark.asyncio
async def test_no_descriptor_leaks_after_many_connections(path: str, spliced: list[int]) -> None:
    async with server(echo) as remote:
        gc.collect()
        await asyncio.sleep(0)
        baseline = open_fds()
        async with forwarder(path, remote, splice_after=0) as fwd:

            async def one(i: int) -> None:
                reader, writer = await connect(fwd)
                payload = os.urandom(200_000 if i % 2 else 10)
                sender = asyncio.create_task(send_all(writer, payload))
                assert digest(await read_all(reader)) == digest(payload)
                await sender
                writer.close()
                await writer.wait_closed()

            for _ in range(4):
                await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(25))), 30)
            await wait_until(lambda: fwd.connections == 0)
            # Live pairs (spliced ones on that path) closed by aclose() leak nothing either.
            held = [await connect(fwd) for _ in range(5)]
            for reader, writer in held:
                writer.write(b"x" * 1000)
                assert await asyncio.wait_for(reader.readexactly(1000), 5) == b"x" * 1000
        for _reader, writer in held:
            writer.close()
        await asyncio.sleep(0.05)
        gc.collect()
        await wait_until(lambda: open_fds() <= baseline)
    check_path(path, spliced, at_least=100)


@pytest.mark.asyncio
async def test_log_lines_name_the_client_and_the_local_port(path: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nat1_traversal.forward")
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def note_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(writer.get_extra_info("peername")[1])
        await echo(reader, writer)

    async with server(note_peer) as remote, forwarder(path, remote) as fwd:
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
async def test_port_shared_with_reuseport_and_busy_port_error(path: str) -> None:
    async with server(echo) as remote, forwarder(path, remote) as fwd:
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
