"""The TCP forwarder's zero-copy splice path (Linux, standard asyncio loop):
integrity of large transfers, half-close both ways, resets, PROXY header order,
idle timeout, backpressure and no descriptor leaks."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop

from nat1_traversal.forward import TcpForwarder
from nat1_traversal.forward import splice as splice_mod
from nat1_traversal.forward.proxy_protocol import header_v2
from nat1_traversal.model import Endpoint
from tests.support.util import wait_until

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "splice"), reason="splice is Linux-only"
)

LOOP4 = ipaddress.ip_address("127.0.0.1")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MiB = 1 << 20


@pytest.fixture
def spliced(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts relays started (each test asserts the splice path really ran)."""
    started: list[int] = []
    original = splice_mod.SpliceRelay.start

    def start(self: splice_mod.SpliceRelay) -> None:
        started.append(1)
        original(self)

    monkeypatch.setattr(splice_mod.SpliceRelay, "start", start)
    return started


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
async def server(handler: Handler) -> AsyncIterator[Endpoint]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield Endpoint(LOOP4, port)
    finally:
        srv.close()


@asynccontextmanager
async def forwarder(remote: Endpoint, splice_after: int = 64 * 1024, **options: Any) -> AsyncIterator[TcpForwarder]:
    fwd = TcpForwarder(Endpoint(LOOP4, 0), remote, **options)
    await fwd.start()
    assert fwd.splice_after == splice_mod_default(), "splice should be on for the asyncio loop on Linux"
    fwd.splice_after = splice_after
    try:
        yield fwd
    finally:
        await fwd.aclose()


def splice_mod_default() -> int:
    from nat1_traversal.forward.tcp import SPLICE_AFTER

    return SPLICE_AFTER


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


@pytest.mark.asyncio
async def test_uvloop_keeps_the_protocol_path() -> None:
    loop = uvloop.new_event_loop()
    try:
        assert not splice_mod.splice_available(loop)
    finally:
        loop.close()
    assert splice_mod.splice_available(asyncio.get_running_loop())


@pytest.mark.asyncio
async def test_large_transfers_both_ways_keep_every_byte(spliced: list[int]) -> None:
    size, count = 8 * MiB, 8

    async def one(fwd: TcpForwarder) -> None:
        payload = os.urandom(size)
        reader, writer = await connect(fwd)
        sender = asyncio.create_task(send_all(writer, payload))
        received = await read_all(reader)
        await sender
        writer.close()
        assert len(received) == size and digest(received) == digest(payload)

    async with server(echo) as remote, forwarder(remote) as fwd:
        await asyncio.wait_for(asyncio.gather(*(one(fwd) for _ in range(count))), 60)
        await wait_until(lambda: fwd.connections == 0)
    assert len(spliced) == count


@pytest.mark.asyncio
async def test_half_close_client_first_keeps_the_reply_flowing(spliced: list[int]) -> None:
    upload, reply = os.urandom(2 * MiB), os.urandom(3 * MiB)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def late_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.set_result(await reader.read())  # until the client's EOF
        await send_all(writer, reply)
        writer.close()

    async with server(late_reply) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        await send_all(writer, upload)
        assert digest(await asyncio.wait_for(got, 10)) == digest(upload)
        assert digest(await read_all(reader)) == digest(reply)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    assert spliced


@pytest.mark.asyncio
async def test_half_close_server_first_keeps_the_upload_flowing(spliced: list[int]) -> None:
    download, upload = os.urandom(2 * MiB), os.urandom(3 * MiB)
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def early_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await send_all(writer, download)  # then EOF, and keep reading
        got.set_result(await reader.read())
        writer.close()

    async with server(early_eof) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        assert digest(await read_all(reader)) == digest(download)
        await send_all(writer, upload)
        assert digest(await asyncio.wait_for(got, 10)) == digest(upload)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    assert spliced


@pytest.mark.asyncio
async def test_reset_from_remote_reaches_the_client(spliced: list[int]) -> None:
    async def rst(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(MiB)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async with server(rst) as remote, forwarder(remote) as fwd:
        reader, writer = await connect(fwd)
        await send_all(writer, os.urandom(MiB), eof=False)
        with pytest.raises(ConnectionResetError):
            await read_all(reader)
        writer.close()
        await wait_until(lambda: fwd.connections == 0)
    assert spliced


@pytest.mark.asyncio
async def test_reset_from_client_reaches_the_remote(spliced: list[int]) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(MiB)
        try:
            await reader.read()
            outcome.set_result("eof")
        except ConnectionResetError:
            outcome.set_result("reset")
        writer.close()

    async with server(watch) as remote, forwarder(remote) as fwd:
        _reader, writer = await connect(fwd)
        await send_all(writer, os.urandom(MiB), eof=False)
        await wait_until(lambda: bool(spliced))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        assert await asyncio.wait_for(outcome, 5) == "reset"
        await wait_until(lambda: fwd.connections == 0)


@pytest.mark.asyncio
async def test_proxy_header_comes_first_then_every_spliced_byte(spliced: list[int]) -> None:
    payload = os.urandom(4 * MiB)
    first: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first.set_result(await reader.read())
        writer.close()

    async with server(capture) as remote, forwarder(remote, proxy_protocol="v2") as fwd:
        _reader, writer = await connect(fwd)
        await send_all(writer, payload)
        data = await asyncio.wait_for(first, 10)
        header = header_v2(writer.get_extra_info("sockname"), fwd.bound.sockaddr())
        assert data[: len(header)] == header
        assert digest(data[len(header) :]) == digest(payload)
        writer.close()
    assert spliced


@pytest.mark.asyncio
async def test_idle_timeout_closes_a_spliced_connection(spliced: list[int]) -> None:
    async with server(echo) as remote, forwarder(remote, idle_timeout=0.3) as fwd:
        reader, writer = await connect(fwd)
        payload = os.urandom(MiB)
        sender = asyncio.create_task(send_all(writer, payload, eof=False))
        assert await asyncio.wait_for(reader.readexactly(MiB), 10) == payload
        await sender
        assert spliced
        busy_r, busy_w = await connect(fwd)
        for _ in range(8):  # the busy one stays open for 0.8 s
            busy_w.write(b"b")
            assert await asyncio.wait_for(busy_r.readexactly(1), 5) == b"b"
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert fwd.connections == 1
        writer.close()
        busy_w.close()


@pytest.mark.asyncio
async def test_slow_reader_stops_the_remote(spliced: list[int]) -> None:
    total = 128 * MiB
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
        await wait_until(lambda: bool(spliced))
        # The client reads nothing: socket buffers and one pipe fill, then the
        # forwarder stops reading and the remote cannot finish.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sent.wait(), 1.0)
        received = 0
        while chunk := await asyncio.wait_for(reader.read(MiB), 10):
            received += len(chunk)
        assert received == total
        writer.close()


@pytest.mark.asyncio
async def test_no_descriptor_leaks_after_many_connections(spliced: list[int]) -> None:
    async with server(echo) as remote:
        gc.collect()
        await asyncio.sleep(0)
        baseline = open_fds()
        async with forwarder(remote, splice_after=0) as fwd:

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
            # Live spliced pairs closed by aclose() leak nothing either.
            held = [await connect(fwd) for _ in range(5)]
            for reader, writer in held:
                writer.write(b"x" * 1000)
                assert await asyncio.wait_for(reader.readexactly(1000), 5) == b"x" * 1000
        for _reader, writer in held:
            writer.close()
        await asyncio.sleep(0.05)
        gc.collect()
        await wait_until(lambda: open_fds() <= baseline)
    assert len(spliced) >= 100
