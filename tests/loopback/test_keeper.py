"""Keeper against in-process fake STUN and HTTP servers on 127.0.0.1 (no root needed)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from nat1_traversal.backoff import backoff_delay
from nat1_traversal.keeper import Keeper, MappingTracker, NatUnusable, TcpPath, UdpPath
from nat1_traversal.keeper.tcp import HttpKeepalive
from nat1_traversal.model import Endpoint, HostPort, Mapping
from nat1_traversal.stun.client import ServerList
from tests.support.keeper_fakes import FakeHttp, FakeStunTcp, FakeStunUdp, MappedRule, close_rfc5780, start_rfc5780
from tests.support.keeper_kit import FAST, LO, OUTER_A, OUTER_B, Published, stop
from tests.support.util import free_port, hp, wait_until

TcpLab = tuple[list[FakeStunTcp], list[FakeHttp], MappedRule]
UdpLab = tuple[list[FakeStunUdp], MappedRule]


def test_tracker_publishes_each_new_mapping_once(caplog: pytest.LogCaptureFixture) -> None:
    published = Published()
    tracker = MappingTracker(published)
    inner = Endpoint(LO, 25565)
    a, b = Mapping("tcp", inner, OUTER_A), Mapping("tcp", inner, OUTER_B)
    with caplog.at_level(logging.INFO):
        assert tracker.offer(a)
        assert not tracker.offer(a)
        assert tracker.offer(b)
        assert not tracker.offer(b)
    assert published.outers == [OUTER_A, OUTER_B]
    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("获取到映射地址： 198.51.100.7:61001") == 1
    assert lines.count("获取到映射地址： 198.51.100.7:61002") == 1


def test_tracker_says_public_ip_once(caplog: pytest.LogCaptureFixture) -> None:
    tracker = MappingTracker(lambda m: None)
    here = Endpoint(ipaddress.IPv4Address("198.51.100.2"), 25565)
    with caplog.at_level(logging.INFO):
        tracker.offer(Mapping("tcp", here, here))
        tracker.offer(Mapping("tcp", here, OUTER_A))
        tracker.offer(Mapping("tcp", here, here))
    assert sum("本机直接拥有公网 IP" in r.getMessage() for r in caplog.records) == 1


def test_backoff_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 1.0, 60.0, rng=rng) for n in range(1, 40)]
    assert backoff_delay(0, 1.0, 60.0) == 0.0
    assert all(0 < d <= 60.0 for d in delays)
    assert delays[0] <= 1.0 and max(delays) > 30.0
    assert len({round(d, 6) for d in delays[10:]}) > 5  # jitter: not all the cap


def test_server_order_moves_failed_servers_back() -> None:
    a, b, c = HostPort("a", 1), HostPort("b", 1), HostPort("c", 1)
    order = ServerList([a, b, c], policy="stable")
    order.mark_bad(a)
    assert order.ordered() == [b, c, a]
    order.mark_good(c)
    assert order.ordered() == [b, c, a]
    order.mark_bad(b)
    assert order.ordered() == [c, a, b]


# --------------------------------------------------------------------------- TCP


@pytest_asyncio.fixture
async def tcp_lab() -> AsyncIterator[TcpLab]:
    rule = MappedRule()
    rule.outer = OUTER_A
    stuns = [await FakeStunTcp(rule).start() for _ in range(3)]
    https = [await FakeHttp().start() for _ in range(2)]
    yield stuns, https, rule
    tcp_servers: list[FakeStunTcp | FakeHttp] = [*stuns, *https]
    for server in tcp_servers:
        await server.close()


def tcp_keeper(
    stuns: list[FakeStunTcp], https: list[FakeHttp], published: Published, port: int | None = None
) -> tuple[Keeper, TcpPath]:
    local = Endpoint(LO, port or free_port())
    path = TcpPath(local, [hp(h.addr) for h in https], FAST)
    keeper = Keeper(path, [hp(s.addr) for s in stuns], submit=published, timing=FAST)
    return keeper, path


@pytest.mark.asyncio
async def test_tcp_acquires_publishes_once_and_keeps_alive(tcp_lab: TcpLab) -> None:
    stuns, https, _rule = tcp_lab
    published = Published()
    keeper, path = tcp_keeper(stuns, https, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        mapping = published.items[0]
        assert mapping.proto == "tcp" and mapping.outer == OUTER_A
        assert mapping.inner.port == path._local.port
        # The keepalive runs on one connection; STUN re-checks every 3 ticks.
        await wait_until(lambda: https[0].requests >= 8)
        assert https[0].connections == 1
        assert stuns[0].requests >= 3
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]


@pytest.mark.asyncio
async def test_tcp_keepalive_comes_from_the_service_port(tcp_lab: TcpLab) -> None:
    stuns, https, _rule = tcp_lab
    port = free_port()
    seen: list[int] = []
    https[0].on_request = lambda: None
    keeper, path = tcp_keeper(stuns, https, Published(), port)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: path.conn is not None and https[0].requests >= 1)
        assert path.conn is not None
        seen.append(path.conn.sock.getsockname()[1])
    finally:
        await stop(task)
    assert seen == [port]


@pytest.mark.asyncio
async def test_tcp_remap_is_republished_exactly_once_and_fast(tcp_lab: TcpLab) -> None:
    stuns, https, rule = tcp_lab
    published = Published()
    keeper, _path = tcp_keeper(stuns, https, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        lost_at = time.monotonic()
        rule.outer = OUTER_B
        https[0].drop_connections()  # what the NAT dropping the mapping looks like
        await wait_until(lambda: len(published.items) == 2)
        delay = published.times[1] - lost_at
        await asyncio.sleep(FAST.keepalive_interval * 8)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A, OUTER_B]
    assert delay < FAST.keepalive_interval + 1.0


@pytest.mark.asyncio
async def test_tcp_recheck_finds_a_silent_remap(tcp_lab: TcpLab) -> None:
    stuns, https, rule = tcp_lab
    published = Published()
    keeper, _path = tcp_keeper(stuns, https, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        rule.outer = OUTER_B  # the keepalive connection stays up: only STUN can tell
        await wait_until(lambda: len(published.items) == 2)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A, OUTER_B]


@pytest.mark.asyncio
async def test_tcp_dead_first_servers_fall_back_to_the_next(tcp_lab: TcpLab) -> None:
    stuns, https, _rule = tcp_lab
    dead_stun = HostPort("127.0.0.1", free_port())
    dead_http = HostPort("127.0.0.1", free_port())
    published = Published()
    local = Endpoint(LO, free_port())
    path = TcpPath(local, [dead_http, *(hp(h.addr) for h in https)], FAST)
    keeper = Keeper(path, [dead_stun, *(hp(s.addr) for s in stuns)], submit=published, timing=FAST)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await wait_until(lambda: stuns[0].requests >= 3)  # re-checks go to a live server
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]
    assert https[0].requests >= 1


@pytest.mark.asyncio
async def test_tcp_keepalive_server_going_silent_moves_to_the_next(tcp_lab: TcpLab) -> None:
    stuns, https, _rule = tcp_lab
    published = Published()
    keeper, _path = tcp_keeper(stuns, https, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: https[0].requests >= 2)
        https[0].silent = True
        await https[0].close()
        await wait_until(lambda: https[1].requests >= 3)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]  # same mapping: not published again


@pytest.mark.asyncio
async def test_tcp_outage_backs_off_then_recovers(tcp_lab: TcpLab, caplog: pytest.LogCaptureFixture) -> None:
    stuns, https, rule = tcp_lab
    published = Published()
    keeper, _path = tcp_keeper(stuns, https, published)
    task = asyncio.create_task(keeper.run())
    try:
        with caplog.at_level(logging.INFO):
            await wait_until(lambda: len(published.items) == 1)
            for server in stuns:
                server.silent = True
            for http in https:
                http.silent = True
            https[0].drop_connections()
            await wait_until(lambda: keeper.failures >= 4, timeout=10)
            rule.outer = OUTER_B
            for server in stuns:
                server.silent = False
            for http in https:
                http.silent = False
            await wait_until(lambda: len(published.items) == 2, timeout=10)
            await wait_until(lambda: keeper.failures == 0)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A, OUTER_B]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning for the outage, not one per retry"
    assert any("网络已恢复" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_tcp_symmetric_nat_is_refused(tcp_lab: TcpLab) -> None:
    stuns, https, rule = tcp_lab
    rule.outer = None
    rule.per_server_port = 61000
    published = Published()
    keeper, _path = tcp_keeper(stuns, https, published)
    with pytest.raises(NatUnusable) as info:
        await asyncio.wait_for(keeper.run(), 5)
    assert info.value.key == "keeper.symmetric"
    assert "对称型 NAT" in str(info.value)
    assert published.items == []


@pytest.mark.asyncio
async def test_tcp_cancel_is_prompt_and_closes_the_keepalive(tcp_lab: TcpLab) -> None:
    stuns, https, _rule = tcp_lab
    keeper, path = tcp_keeper(stuns, https, Published())
    task = asyncio.create_task(keeper.run())
    await wait_until(lambda: https[0].requests >= 1)
    started = time.monotonic()
    await stop(task)
    assert time.monotonic() - started < 0.5
    assert path.conn is None


@pytest.mark.asyncio
async def test_http_keepalive_notices_connection_close_header() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        sock = socket.create_connection(server.sockets[0].getsockname()[:2])
        sock.setblocking(False)
        conn = HttpKeepalive(sock, HostPort("127.0.0.1", 80))
        assert await conn.ping(1.0) == 200
        assert conn.closing
        assert await conn.idle(1.0) is False  # EOF seen long before the second
        conn.close()
    finally:
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- UDP


@pytest_asyncio.fixture
async def udp_lab() -> AsyncIterator[UdpLab]:
    rule = MappedRule()
    rule.outer = OUTER_A
    stuns = [await FakeStunUdp(rule).start() for _ in range(3)]
    yield stuns, rule
    for server in stuns:
        server.close()


def udp_keeper(stuns: list[FakeStunUdp], published: Published) -> tuple[Keeper, UdpPath]:
    path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
    keeper = Keeper(path, [hp(s.addr) for s in stuns], submit=published, timing=FAST)
    return keeper, path


@pytest.mark.asyncio
async def test_udp_server_that_moves_leaves_no_socket_behind(udp_lab: UdpLab) -> None:
    """A STUN name that resolves to a new address (DNS round robin) reuses one socket slot."""
    stuns, _rule = udp_lab
    path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
    answers = iter([stuns[0].addr, stuns[1].addr, stuns[2].addr])

    async def moving(server: HostPort) -> tuple[str, int]:
        answer: tuple[str, int] = next(answers)
        return answer

    path._resolve = moving  # type: ignore[assignment]
    name = HostPort("stun.example.test", 3478)
    try:
        transports = []
        for _ in range(3):
            assert (await path.binding(name)).mapping.outer == OUTER_A
            transports.append(path._connected[name][1])
        assert len(path._connected) == 1
        assert [t.is_closing() for t in transports] == [True, True, False]
    finally:
        await path.aclose()
    assert transports[-1].is_closing()


@pytest.mark.asyncio
async def test_udp_keepalive_is_stun_from_the_service_port(udp_lab: UdpLab) -> None:
    stuns, _rule = udp_lab
    published = Published()
    keeper, path = udp_keeper(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: stuns[0].requests >= 6)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]
    assert {src[1] for src in stuns[0].sources} == {path._local.port}


@pytest.mark.asyncio
async def test_udp_remap_republished_once(udp_lab: UdpLab) -> None:
    stuns, rule = udp_lab
    published = Published()
    keeper, _path = udp_keeper(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        lost_at = time.monotonic()
        rule.outer = OUTER_B
        await wait_until(lambda: len(published.items) == 2)
        delay = published.times[1] - lost_at
        await asyncio.sleep(FAST.keepalive_interval * 5)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A, OUTER_B]
    assert delay < FAST.keepalive_interval + 1.0


@pytest.mark.asyncio
async def test_udp_flap_is_not_published(udp_lab: UdpLab) -> None:
    stuns, _rule = udp_lab
    published = Published()
    keeper, _path = udp_keeper(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        before = stuns[0].requests
        stuns[0].one_shot = OUTER_B  # one odd answer; the confirmation says A again
        await wait_until(lambda: stuns[0].requests >= before + 5)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]


@pytest.mark.asyncio
async def test_udp_dead_server_falls_back(udp_lab: UdpLab) -> None:
    stuns, _rule = udp_lab
    published = Published()
    keeper, _path = udp_keeper(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        stuns[0].close()
        before = stuns[1].requests
        await wait_until(lambda: stuns[1].requests >= before + 4)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]


@pytest.mark.asyncio
async def test_udp_outage_then_recovery(udp_lab: UdpLab) -> None:
    stuns, _rule = udp_lab
    published = Published()
    keeper, _path = udp_keeper(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        for server in stuns:
            server.silent = True
        await wait_until(lambda: keeper.failures >= 2, timeout=10)
        for server in stuns:
            server.silent = False
        await wait_until(lambda: keeper.failures == 0, timeout=10)
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]  # unchanged after the outage: no new publish


async def _filtering_verdict(change_ip: bool, change_port: bool, *, ignore_change: bool = False) -> object:
    primary = await start_rfc5780()
    primary.answer_change_ip = change_ip
    primary.answer_change_port = change_port
    primary.ignore_change = ignore_change
    try:
        path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
        return await path.filtering([hp(primary.addr)])
    finally:
        close_rfc5780(primary)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change_ip", "change_port", "verdict"),
    [(True, True, "independent"), (False, True, "address"), (False, False, "port")],
)
async def test_udp_filtering_test(change_ip: bool, change_port: bool, verdict: str) -> None:
    assert await _filtering_verdict(change_ip, change_port) == (verdict, False)


@pytest.mark.asyncio
async def test_udp_filtering_test_server_ignoring_change_request_is_unknown() -> None:
    """Issue 10: a server that answers CHANGE-REQUEST from its primary address says
    nothing about the NAT. The keeper's copy of the test used to read it as independent."""
    assert await _filtering_verdict(True, True, ignore_change=True) is None


@pytest.mark.asyncio
async def test_udp_filtering_test_reply_from_the_wrong_changed_address_is_unknown() -> None:
    """"Change port" answered from the other IP is not what was asked: not "address"."""
    primary = await start_rfc5780()
    assert primary.port_alt is not None
    primary.port_alt.close()
    primary.port_alt = None  # the fake now answers "change port" from alt IP + alt port
    primary.answer_change_ip = False
    try:
        path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
        assert await path.filtering([hp(primary.addr)]) is None
    finally:
        close_rfc5780(primary)


@pytest.mark.asyncio
@pytest.mark.parametrize("certain", [True, False], ids=["on-the-service-port", "on-another-port"])
async def test_restricted_filtering(udp_lab: UdpLab, caplog: pytest.LogCaptureFixture, certain: bool) -> None:
    """Measured on the service port: refused with an explanation, nothing published.
    Measured on another port (a port forward for this port would be invisible there):
    a clear warning, and the mapping is still published."""
    stuns, _rule = udp_lab

    async def port_restricted() -> tuple[str, bool]:
        return ("port", certain)

    published = Published()
    keeper = Keeper(
        UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST),
        [hp(s.addr) for s in stuns],
        submit=published,
        timing=FAST,
        filtering=port_restricted,  # type: ignore[arg-type]
    )
    if certain:
        with pytest.raises(NatUnusable) as info:
            await asyncio.wait_for(keeper.run(), 5)
        assert info.value.key == "keeper.restricted"
        assert "端口受限锥形" in str(info.value)
        assert published.items == []
        return
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
    finally:
        await stop(task)
    assert "端口受限锥形" in caplog.text and "端口转发" in caplog.text


@pytest.mark.asyncio
async def test_tcp_keepalive_server_that_hangs_up_does_not_make_us_spin(tcp_lab: TcpLab) -> None:
    stuns, _https, _rule = tcp_lab
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    published = Published()
    path = TcpPath(Endpoint(LO, free_port()), [hp(server.sockets[0].getsockname()[:2])], FAST)
    keeper = Keeper(path, [hp(s.addr) for s in stuns], submit=published, timing=FAST)
    task = asyncio.create_task(keeper.run())
    try:
        await asyncio.sleep(1.5)
    finally:
        await stop(task)
        server.close()
    assert published.outers == [OUTER_A]
    # Issue 12: a server that closes after every reply is reconnected once per interval
    # (0.1 s here) from the same port: no hot loop, and no backoff either.
    assert 2 <= connections <= 20
    assert keeper.failures == 0


@pytest.mark.parametrize(
    ("server", "header"),
    [
        (HostPort("www.example.com", 80), b"Host: www.example.com\r\n"),
        (HostPort("::1", 8080), b"Host: [::1]:8080\r\n"),
        (HostPort("203.0.113.10", 8000), b"Host: 203.0.113.10:8000\r\n"),
    ],
)
def test_keepalive_host_header(server: HostPort, header: bytes) -> None:
    with socket.socket() as sock:
        assert header in HttpKeepalive(sock, server)._request
