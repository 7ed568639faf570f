"""UDP forwarder on loopback: sessions, expiry, the cap, the STUN intercept hook and
survival of ICMP port-unreachable from remote."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import UdpForwarder
from nat1_traversal.model import Endpoint

LOOP4 = ipaddress.ip_address("127.0.0.1")


# Every test runs on the standard loop and on uvloop (the CLI uses it when installed).
# pytest-asyncio 1.x deprecates this override in favour of a conftest hook.
pytestmark = pytest.mark.filterwarnings("ignore:.*event_loop_policy.*:DeprecationWarning")


@pytest.fixture(params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    if request.param == "uvloop":
        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()


class Echo(asyncio.DatagramProtocol):
    """Echoes every datagram and remembers who sent what."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: list[tuple[str, int]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.peers.append(addr)
        assert self.transport is not None
        self.transport.sendto(data, addr)


@asynccontextmanager
async def echo_server(port: int = 0) -> AsyncIterator[tuple[Endpoint, Echo]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", port))
    try:
        yield Endpoint(LOOP4, transport.get_extra_info("sockname")[1]), proto
    finally:
        transport.close()


@asynccontextmanager
async def forwarder(remote: Endpoint, **options: Any) -> AsyncIterator[UdpForwarder]:
    fwd = UdpForwarder(Endpoint(LOOP4, 0), remote, **options)
    await fwd.start()
    try:
        yield fwd
    finally:
        await fwd.aclose()


def client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def recv(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, Any]:
    # loop.sock_recvfrom is not implemented by uvloop: wait for readability instead.
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await asyncio.wait_for(readable, timeout)
    finally:
        loop.remove_reader(sock.fileno())
    return sock.recvfrom(65536)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_sessions_per_client_and_large_datagrams(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nat1_traversal.forward")
    async with echo_server() as (remote, echo), forwarder(remote) as fwd:
        a, b = client(), client()
        try:
            big = os.urandom(65000)
            for sock, payload in ((a, b"from a"), (b, b"from b"), (a, big), (a, b"x" * 1400)):
                sock.sendto(payload, fwd.bound.sockaddr())
                data, source = await recv(sock)
                assert data == payload
                assert source == fwd.bound.sockaddr()
            assert fwd.sessions == 2
            assert len(set(echo.peers)) == 2  # one remote-side socket per client
        finally:
            a.close()
            b.close()
    opened = [r.getMessage() for r in caplog.records if "新 UDP 会话" in r.getMessage()]
    assert len(opened) == 2
    assert any(str(echo.peers[0][1]) in line for line in opened)


@pytest.mark.asyncio
async def test_session_expires_when_idle_and_traffic_either_way_refreshes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="nat1_traversal.forward")
    async with echo_server() as (remote, echo), forwarder(remote, idle_timeout=0.3) as fwd:
        idle, busy = client(), client()
        try:
            for sock in (idle, busy):
                sock.sendto(b"hi", fwd.bound.sockaddr())
                await recv(sock)
            assert fwd.sessions == 2
            assert echo.transport is not None
            busy_remote_side = echo.peers[-1]
            for _ in range(8):  # 0.8 s: only remote speaks to the busy session
                echo.transport.sendto(b"push", busy_remote_side)
                assert (await recv(busy))[0] == b"push"
                await asyncio.sleep(0.1)
            await wait_until(lambda: fwd.sessions == 1)
            assert echo.peers[-1] == busy_remote_side  # the busy one survived
        finally:
            idle.close()
            busy.close()
    assert any("UDP 会话" in r.getMessage() and "已结束" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_session_cap(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with echo_server() as (remote, _echo), forwarder(remote, max_sessions=2) as fwd:
        socks = [client() for _ in range(3)]
        try:
            for sock in socks[:2]:
                sock.sendto(b"in", fwd.bound.sockaddr())
                await recv(sock)
            socks[2].sendto(b"over", fwd.bound.sockaddr())
            socks[2].sendto(b"over", fwd.bound.sockaddr())
            with pytest.raises(asyncio.TimeoutError):
                await recv(socks[2], timeout=0.3)
            assert fwd.sessions == 2
            assert sum("上限" in r.getMessage() for r in caplog.records) == 1
        finally:
            for sock in socks:
                sock.close()


@pytest.mark.asyncio
async def test_intercept_hook_and_send_from_the_listening_socket() -> None:
    seen: list[tuple[bytes, tuple[str, int]]] = []

    def stun_only(data: bytes, addr: tuple[str, int]) -> bool:
        seen.append((data, addr))
        return data.startswith(b"STUN")

    async with echo_server() as (remote, echo), forwarder(remote, intercept=stun_only) as fwd:
        sock = client()
        try:
            sock.sendto(b"STUN reply", fwd.bound.sockaddr())
            sock.sendto(b"game", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"game"  # the STUN one was consumed
            assert seen == [(b"STUN reply", sock.getsockname()), (b"game", sock.getsockname())]
            assert len(echo.peers) == 1
            fwd.send(b"binding request", sock.getsockname())
            data, source = await recv(sock)
            assert (data, source) == (b"binding request", fwd.bound.sockaddr())
            fwd.set_intercept(None)
            sock.sendto(b"STUN now forwarded", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"STUN now forwarded"
        finally:
            sock.close()


@pytest.mark.asyncio
async def test_icmp_port_unreachable_from_remote_is_survived(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    placeholder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    placeholder.bind(("127.0.0.1", 0))
    port = placeholder.getsockname()[1]
    placeholder.close()  # nothing listens there now: the kernel answers ICMP unreachable
    async with forwarder(Endpoint(LOOP4, port)) as fwd:
        sock = client()
        try:
            for _ in range(3):
                sock.sendto(b"anyone?", fwd.bound.sockaddr())
            await wait_until(lambda: fwd.sessions == 1)
            await asyncio.sleep(0.05)  # let the ICMP errors arrive and be read
            async with echo_server(port):
                sock.sendto(b"back up", fwd.bound.sockaddr())
                assert (await recv(sock))[0] == b"back up"
            assert fwd.sessions == 1
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        finally:
            sock.close()


@pytest.mark.asyncio
async def test_busy_port_is_a_clear_error() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        fwd = UdpForwarder(Endpoint(LOOP4, taken.getsockname()[1]), Endpoint(LOOP4, 9))
        with pytest.raises(NetworkError) as info:
            await fwd.start()
        assert "无法监听" in str(info.value)
    finally:
        taken.close()


@pytest.mark.asyncio
async def test_datagrams_from_strangers_to_a_session_socket_are_dropped() -> None:
    async with echo_server() as (remote, echo), forwarder(remote) as fwd:
        sock = client()
        stranger = client()
        try:
            sock.sendto(b"hello", fwd.bound.sockaddr())
            await recv(sock)
            session_side = echo.peers[-1]  # the forwarder's socket towards remote
            stranger.sendto(b"injected", session_side)
            sock.sendto(b"real", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"real"
            with pytest.raises(asyncio.TimeoutError):
                await recv(sock, timeout=0.2)
        finally:
            sock.close()
            stranger.close()
