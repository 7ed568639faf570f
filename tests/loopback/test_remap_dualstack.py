"""``local`` = ``[::]`` (dual-stack) must still reach IPv4-only STUN and keepalive servers.

A socket bound to ``[::]`` with IPV6_V6ONLY off reaches IPv4 through IPv4-mapped
addresses. Every fake here listens on 127.0.0.1 only, so a keeper that resolved
for AF_INET6 alone (the bug) never gets a mapping.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from nat1_traversal.app import Service, run_service
from nat1_traversal.errors import NetworkError
from nat1_traversal.keeper import Keeper, TcpPath, UdpPath
from nat1_traversal.keeper.udp import filtering_hint
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import Resolver, is_dual_stack, resolve_dual_stack
from tests.support.app_kit import FakePublisher, Fakes
from tests.support.keeper_fakes import FakeHttp, FakeStunTcp, FakeStunUdp, close_rfc5780, start_rfc5780
from tests.support.keeper_kit import FAST, OUTER_A, Published, stop
from tests.support.util import free_port, hp, wait_until

V4Only = tuple[list[FakeStunTcp], list[FakeStunUdp], FakeHttp]

ANY6 = ipaddress.IPv6Address("::")
LO4 = ipaddress.IPv4Address("127.0.0.1")


# --------------------------------------------------------------------------- resolution


def test_only_the_v6_wildcard_is_dual_stack() -> None:
    assert is_dual_stack(Endpoint(ANY6, 1))
    assert not is_dual_stack(Endpoint(ipaddress.IPv6Address("::1"), 1))
    assert not is_dual_stack(Endpoint(ipaddress.IPv4Address("0.0.0.0"), 1))


@pytest.mark.asyncio
async def test_dual_stack_resolver_maps_ipv4_literals() -> None:
    resolver = Resolver("udp", socket.AF_INET6, 60.0, dual_stack=True)
    assert await resolver(HostPort("127.0.0.1", 3478)) == ("::ffff:127.0.0.1", 3478)
    assert await resolver(HostPort("::1", 3478)) == ("::1", 3478)
    # A specific IPv6 bind is v6-only by nature: IPv4 servers stay unreachable there.
    with pytest.raises(NetworkError):
        await Resolver("udp", socket.AF_INET6, 60.0)(HostPort("127.0.0.1", 3478))


def _infos(*hosts: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for host in hosts:
        if ":" in host:
            out.append((socket.AF_INET6, socket.SOCK_DGRAM, 17, "", (host, 3478, 0, 0)))
        else:
            out.append((socket.AF_INET, socket.SOCK_DGRAM, 17, "", (host, 3478)))
    return out


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (("2001:db8::1", "192.0.2.1"), "::ffff:192.0.2.1"),  # IPv4 preferred: the NAT is an IPv4 matter
        (("192.0.2.1",), "::ffff:192.0.2.1"),
        (("2001:db8::1",), "2001:db8::1"),  # no A record: IPv6 it is
    ],
)
async def test_dual_stack_resolver_asks_both_families(
    monkeypatch: pytest.MonkeyPatch, answers: tuple[str, ...], expected: str
) -> None:
    asked: list[int] = []

    async def fake_getaddrinfo(host: str, port: int, *, family: int = 0, type: int = 0) -> list[tuple[Any, ...]]:
        asked.append(family)
        return _infos(*answers)

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    assert await resolve_dual_stack(HostPort("stun.example.test", 3478), "udp") == (expected, 3478)
    assert asked == [socket.AF_UNSPEC]


# --------------------------------------------------------------------------- keeper paths


@pytest_asyncio.fixture
async def v4_only() -> AsyncIterator[V4Only]:
    """Servers on 127.0.0.1 only, reporting the source they really see (no fake NAT)."""
    stun_tcp = [await FakeStunTcp().start("127.0.0.1") for _ in range(2)]
    stun_udp = [await FakeStunUdp().start("127.0.0.1") for _ in range(2)]
    http = await FakeHttp().start("127.0.0.1")
    yield stun_tcp, stun_udp, http
    tcp_servers: list[FakeStunTcp | FakeHttp] = [*stun_tcp, http]
    for server in tcp_servers:
        await server.close()
    for udp in stun_udp:
        udp.close()


@pytest.mark.asyncio
async def test_tcp_keeper_on_dual_stack_wildcard_reaches_ipv4_servers(v4_only: V4Only) -> None:
    stun_tcp, _stun_udp, http = v4_only
    port = free_port()
    published = Published()
    path = TcpPath(Endpoint(ANY6, port), [hp(http.addr)], FAST, family=socket.AF_INET6)
    keeper = Keeper(path, [hp(s.addr) for s in stun_tcp], submit=published, timing=FAST)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await wait_until(lambda: http.requests >= 3)  # the keepalive works too
    finally:
        await stop(task)
    mapping = published.items[0]
    # Seen over IPv4 from the service port itself, and reported without the ::ffff: prefix.
    assert mapping.outer == Endpoint(LO4, port)
    assert mapping.inner == Endpoint(LO4, port)


@pytest.mark.asyncio
async def test_udp_keeper_on_dual_stack_wildcard_reaches_ipv4_servers(v4_only: V4Only) -> None:
    _stun_tcp, stun_udp, _http = v4_only
    port = free_port(socket.SOCK_DGRAM)
    published = Published()
    path = UdpPath(Endpoint(ANY6, port), FAST, family=socket.AF_INET6)
    keeper = Keeper(path, [hp(s.addr) for s in stun_udp], submit=published, timing=FAST)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await wait_until(lambda: stun_udp[0].requests >= 4)
    finally:
        await stop(task)
    assert published.items[0].outer == Endpoint(LO4, port)
    assert published.items[0].inner == Endpoint(LO4, port)
    assert set(stun_udp[0].sources) == {("127.0.0.1", port)}


@pytest.mark.asyncio
async def test_filtering_hint_on_dual_stack_reaches_ipv4_servers() -> None:
    primary = await start_rfc5780()
    try:
        verdict = await filtering_hint([hp(primary.addr)], FAST, family=socket.AF_INET6, dual_stack=True)
    finally:
        close_rfc5780(primary)
    assert verdict == "independent"


# --------------------------------------------------------------------------- the whole service


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["tcp", "udp"])
async def test_forward_mode_on_dual_stack_wildcard(fakes: Fakes, kind: str) -> None:
    """``-l [::]:port``: mapped through IPv4 servers, and IPv4 players get through."""
    loop = asyncio.get_running_loop()
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    if kind == "tcp":

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"echo:" + await reader.read(100))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        remote_port = int(server.sockets[0].getsockname()[1])
    else:

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

        udp_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        remote_port = udp_transport.get_extra_info("sockname")[1]
    port = free_port(sock_type)
    config = fakes.config(type=kind, local=Endpoint(ANY6, port), remote=Endpoint(LO4, remote_port))
    publisher = FakePublisher()
    stop_event = asyncio.Event()
    runner = asyncio.create_task(
        run_service(config, stop=stop_event, service=Service(config, timing=FAST, publisher=publisher))
    )
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        assert publisher.items[0].outer == OUTER_A
        assert publisher.items[0].inner.port == port
        with socket.socket(socket.AF_INET, sock_type) as player:
            player.settimeout(2)
            player.connect(("127.0.0.1", port))
            player.send(b"hi")
            assert await loop.run_in_executor(None, player.recv, 100) == b"echo:hi"
        if kind == "tcp":
            await wait_until(lambda: fakes.http[0].requests >= 3)
        else:
            await wait_until(lambda: fakes.stun_udp[0].requests >= 4)
            assert {src[1] for src in fakes.stun_udp[0].sources} == {port}
    finally:
        stop_event.set()
        assert await asyncio.wait_for(runner, 2) == 0
        if kind == "tcp":
            server.close()
        else:
            udp_transport.close()
    assert len(publisher.items) == 1
