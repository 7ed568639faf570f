"""UDP forwarder on loopback: sessions, expiry, the cap, the STUN intercept hook and
survival of ICMP port-unreachable from remote — on both relay designs (the event
loop's add_reader, and the Linux relay thread with its own epoll)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import uvloop

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import UdpForwarder
from nat1_traversal.forward import udp as udp_module
from nat1_traversal.model import Endpoint
from tests.support import mcfakes
from tests.support.util import wait_until

LOOP4 = ipaddress.ip_address("127.0.0.1")


# Every test runs on the standard loop with either relay design and on uvloop (the
# CLI uses it when installed; "auto" keeps the loop design there).
# pytest-asyncio 1.x deprecates this override in favour of a conftest hook.
pytestmark = pytest.mark.filterwarnings("ignore:.*event_loop_policy.*:DeprecationWarning")

LINUX = sys.platform.startswith("linux")
# mode -> (relay asked for, relay expected to run)
MODES = {
    "asyncio-loop": ("loop", "loop"),
    "asyncio-auto": ("auto", "thread" if LINUX and udp_module.AUTO_THREAD else "loop"),
    "asyncio-thread": ("thread", "thread" if LINUX else "loop"),
    "uvloop": ("auto", "loop"),
}
RELAY: tuple[str, str] = ("auto", "loop")


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(sys.modules[__name__], "RELAY", MODES[request.param])
    return str(request.param)


@pytest.fixture
def event_loop_policy(mode: str) -> asyncio.AbstractEventLoopPolicy:
    if mode == "uvloop":
        policy: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
        return policy
    return asyncio.DefaultEventLoopPolicy()


class Echo(asyncio.DatagramProtocol):
    """Echoes every datagram and remembers who sent what."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: list[tuple[str, int]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

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
    asked, expected = RELAY
    options.setdefault("relay", asked)
    fwd = UdpForwarder(Endpoint(LOOP4, 0), remote, **options)
    await fwd.start()
    assert fwd.relay == (expected if options["relay"] == asked else options["relay"])
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
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(sock.fileno(), ready)
    try:
        await asyncio.wait_for(readable, timeout)
    finally:
        loop.remove_reader(sock.fileno())
    return sock.recvfrom(65536)


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

    threads: set[int] = set()

    def ours_only(data: bytes, addr: tuple[str, int]) -> bool:
        seen.append((data, addr))
        threads.add(threading.get_ident())
        return data.endswith(b"ours")

    async with echo_server() as (remote, echo), forwarder(remote, intercept=ours_only) as fwd:
        sock = client()
        try:
            sock.sendto(stun_shaped(b"ours"), fwd.bound.sockaddr())
            sock.sendto(b"game", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"game"  # the claimed one was consumed
            assert (stun_shaped(b"ours"), sock.getsockname()) in seen
            assert threads == {threading.get_ident()}  # the hook runs on the event loop
            assert len(echo.peers) == 1
            sock.sendto(stun_shaped(b"not claimed"), fwd.bound.sockaddr())
            assert (await recv(sock))[0] == stun_shaped(b"not claimed")  # offered, then relayed
            assert (stun_shaped(b"not claimed"), sock.getsockname()) in seen
            fwd.send(b"binding request", sock.getsockname())
            data, source = await recv(sock)
            assert (data, source) == (b"binding request", fwd.bound.sockaddr())
            fwd.set_intercept(None)
            sock.sendto(stun_shaped(b"now forwarded ours"), fwd.bound.sockaddr())
            assert (await recv(sock))[0] == stun_shaped(b"now forwarded ours")
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


def stun_shaped(tail: bytes) -> bytes:
    """A datagram with a STUN header (type, length, magic cookie, transaction id)."""
    return b"\x01\x01\x00\x00\x21\x12\xa4\x42" + b"t" * 12 + tail


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="the relay thread is Linux only")
@pytest.mark.parametrize("mode", ["asyncio-thread"], indirect=True)
async def test_relay_thread_stops_cleanly_and_releases_its_descriptors(mode: str) -> None:
    async with echo_server() as (remote, _echo):
        before = set(os.listdir("/proc/self/fd"))
        fwd = UdpForwarder(Endpoint(LOOP4, 0), remote, relay="thread")
        await fwd.start()
        relay = fwd._thread
        assert relay is not None
        started = relay.alive
        assert started
        sock = client()
        try:
            for payload in (b"one", b"two"):
                sock.sendto(payload, fwd.bound.sockaddr())
                assert (await recv(sock))[0] == payload
            assert fwd.sessions == 1
            await asyncio.wait_for(fwd.aclose(), 5)
        finally:
            sock.close()
        assert not relay.alive
        assert relay.crashed is None
        assert fwd.sessions == 0
        assert not [t for t in threading.enumerate() if t.name == "nat1-udp-relay"]
        await fwd.aclose()  # twice is harmless
        assert set(os.listdir("/proc/self/fd")) <= before  # listening, session, epoll, eventfd: closed


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="the relay thread is Linux only")
@pytest.mark.parametrize("mode", ["uvloop"], indirect=True)
async def test_relay_thread_can_be_forced_on_uvloop(mode: str) -> None:
    async with echo_server() as (remote, _echo), forwarder(remote, relay="thread") as fwd:
        sock = client()
        try:
            sock.sendto(b"ping", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"ping"
        finally:
            sock.close()


def unconnected_ping() -> bytes:
    return b"\x01" + (1234).to_bytes(8, "big") + mcfakes.MAGIC + (42).to_bytes(8, "big")


def advertised_ports(pong: bytes) -> list[str]:
    length = int.from_bytes(pong[33:35], "big")
    assert len(pong) == 35 + length
    return pong[35:].decode().split(";")[10:12]


@pytest.mark.asyncio
async def test_bedrock_pongs_advertise_the_mapped_port_once_it_is_known(mode: str) -> None:
    fake = mcfakes.BedrockFake(text=mcfakes.pong_string())
    server = await mcfakes.start_bedrock(fake)
    try:
        async with forwarder(Endpoint(LOOP4, server.port)) as fwd:
            sock = client()
            try:
                sock.sendto(unconnected_ping(), fwd.bound.sockaddr())
                untouched = (await recv(sock))[0]
                assert advertised_ports(untouched) == ["19132", "19133"]  # no mapping yet: as sent
                fwd.set_advertised_port(40001)
                sock.sendto(unconnected_ping(), fwd.bound.sockaddr())
                pong = (await recv(sock))[0]
                assert advertised_ports(pong) == ["40001", "40001"]
                assert pong[:33] == untouched[:33]
                fwd.set_advertised_port(None)
                sock.sendto(unconnected_ping(), fwd.bound.sockaddr())
                assert (await recv(sock))[0] == untouched
            finally:
                sock.close()
    finally:
        server.close()


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="the relay thread is Linux only")
@pytest.mark.parametrize("mode", ["asyncio-thread"], indirect=True)
async def test_a_relay_thread_that_dies_of_a_bug_hands_over_to_the_loop(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nat1_traversal.forward import udp_thread

    reported: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: reported.append(context))
    original = udp_thread.EpollRelay._on_session_readable
    calls = 0

    def buggy(self: udp_thread.EpollRelay, session: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ZeroDivisionError("a bug")
        original(self, session)

    monkeypatch.setattr(udp_thread.EpollRelay, "_on_session_readable", buggy)
    async with echo_server() as (remote, _echo), forwarder(remote, relay="thread") as fwd:
        sock = client()
        try:
            sock.sendto(b"one", fwd.bound.sockaddr())
            assert (await recv(sock))[0] == b"one"
            sock.sendto(b"two", fwd.bound.sockaddr())  # the thread dies on the reply
            await wait_until(lambda: fwd.relay == "loop")
            assert any(isinstance(c.get("exception"), ZeroDivisionError) for c in reported)
            for payload in (b"three", b"four"):  # the session lives on, relayed by the loop
                sock.sendto(payload, fwd.bound.sockaddr())
                data = (await recv(sock))[0]
                if data == b"two":  # the reply the thread never read is still queued
                    data = (await recv(sock))[0]
                assert data == payload
            assert fwd.sessions == 1
        finally:
            sock.close()
