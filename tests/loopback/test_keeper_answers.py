"""What may count as a mapping (issue 15 "what must never be published") and how the
keeper decides between servers that disagree; fake STUN servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from nat1_traversal.keeper import Keeper, NatUnusable, UdpPath
from nat1_traversal.keeper.sanity import mapping_problem
from nat1_traversal.model import Endpoint, Mapping
from tests.support.keeper_fakes import FakeStunUdp, MappedRule
from tests.support.keeper_kit import FAST, LO, OUTER_A, Published, stop
from tests.support.util import free_port, hp, wait_until

INNER = Endpoint(ipaddress.IPv4Address("10.0.0.2"), 25565)


def ep(ip: str, port: int = 40000) -> Endpoint:
    return Endpoint(ipaddress.ip_address(ip), port)


IMPOSSIBLE = [
    pytest.param(ep("0.0.0.0"), "keeper.bad.unspecified", id="unspecified"),
    pytest.param(ep("::"), "keeper.bad.unspecified", id="unspecified-v6"),
    pytest.param(ep("127.0.0.1"), "keeper.bad.loopback", id="loopback"),
    pytest.param(ep("::1"), "keeper.bad.loopback", id="loopback-v6"),
    pytest.param(ep("224.0.0.1"), "keeper.bad.not_unicast", id="multicast"),
    pytest.param(ep("ff02::1"), "keeper.bad.not_unicast", id="multicast-v6"),
    pytest.param(ep("255.255.255.255"), "keeper.bad.not_unicast", id="broadcast"),
    pytest.param(ep("240.0.0.1"), "keeper.bad.not_unicast", id="reserved"),
    pytest.param(ep("169.254.3.4"), "keeper.bad.link_local", id="link-local"),
    pytest.param(ep("fe80::1"), "keeper.bad.link_local", id="link-local-v6"),
    pytest.param(ep("::ffff:198.51.100.7"), "keeper.bad.v4_mapped", id="v4-mapped"),
    pytest.param(ep("198.51.100.7", 0), "keeper.bad.port_zero", id="port-0"),
    pytest.param(ep("10.1.2.3"), "keeper.bad.private", id="10/8"),
    pytest.param(ep("172.16.5.6"), "keeper.bad.private", id="172.16/12"),
    pytest.param(ep("192.168.1.1"), "keeper.bad.private", id="192.168/16"),
    pytest.param(ep("100.64.0.9"), "keeper.bad.private", id="cgnat-100.64/10"),
    pytest.param(ep("fd00::5"), "keeper.bad.private", id="ula-v6"),
]


@pytest.mark.parametrize(("outer", "key"), IMPOSSIBLE)
def test_impossible_and_private_mappings_are_named(outer: Endpoint, key: str) -> None:
    assert mapping_problem(Mapping("udp", INNER, outer)) == key


@pytest.mark.parametrize(
    "outer", [ep("198.51.100.7"), ep("203.0.113.1", 1), ep("8.8.8.8", 65535), ep("2001:db8::1"), ep("172.32.0.1")]
)
def test_public_mappings_pass(outer: Endpoint) -> None:
    assert mapping_problem(Mapping("udp", INNER, outer)) is None


def test_no_nat_on_a_private_or_loopback_link_is_what_it_is() -> None:
    """inner == outer: the server is on this host or link; no remote server can fake that."""
    for address in ("127.0.0.1", "192.168.1.5", "169.254.1.1"):
        same = ep(address, 5000)
        assert mapping_problem(Mapping("udp", same, same)) is None


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[tuple[list[FakeStunUdp], list[MappedRule]]]:
    rules = [MappedRule() for _ in range(3)]
    for rule in rules:
        rule.outer = OUTER_A
    stuns = [await FakeStunUdp(rule).start() for rule in rules]
    yield stuns, rules
    for server in stuns:
        server.close()


def keeper_for(stuns: list[FakeStunUdp], published: Published) -> Keeper:
    path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
    return Keeper(path, [hp(s.addr) for s in stuns], submit=published, timing=FAST)


@pytest.mark.asyncio
@pytest.mark.parametrize(("outer", "key"), IMPOSSIBLE)
async def test_one_bad_reply_from_the_only_server_is_never_published(
    servers: tuple[list[FakeStunUdp], list[MappedRule]], caplog: pytest.LogCaptureFixture, outer: Endpoint, key: str
) -> None:
    """Issue 15: with one STUN server a single bad reply used to overwrite the user's DNS."""
    stuns, rules = servers
    rules[0].outer = outer
    published = Published()
    keeper = keeper_for(stuns[:1], published)
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: stuns[0].requests >= 3)
    finally:
        await stop(task)
    assert published.items == []
    assert "获取到映射地址" not in caplog.text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("已忽略 STUN 服务器" in w and str(outer) in w for w in warnings), warnings
    assert sum("已忽略 STUN 服务器" in w for w in warnings) == 1, "said once, not every retry"


@pytest.mark.asyncio
async def test_a_bad_reply_gives_way_to_the_next_server(
    servers: tuple[list[FakeStunUdp], list[MappedRule]], caplog: pytest.LogCaptureFixture
) -> None:
    stuns, rules = servers
    rules[0].outer = ep("0.0.0.0", 0)
    published = Published()
    keeper = keeper_for(stuns, published)
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await wait_until(lambda: stuns[1].requests >= 4)  # a few rechecks
    finally:
        await stop(task)
    assert published.outers == [OUTER_A]
    assert "私有网络" not in caplog.text


@pytest.mark.asyncio
async def test_a_private_answer_says_double_nat(
    servers: tuple[list[FakeStunUdp], list[MappedRule]], caplog: pytest.LogCaptureFixture
) -> None:
    stuns, rules = servers
    rules[0].outer = ep("100.64.1.2")
    published = Published()
    keeper = keeper_for(stuns[:1], published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: stuns[0].requests >= 2)
    finally:
        await stop(task)
    assert published.items == []
    assert "双重 NAT" in caplog.text


LIE = ep("198.51.100.99", 4444)


@pytest.mark.asyncio
async def test_one_lying_server_out_of_two_is_outvoted_by_a_third(
    servers: tuple[list[FakeStunUdp], list[MappedRule]], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15: the liar first, then two honest servers. The daemon used to ask the liar
    again, hear the same lie, and exit calling the NAT symmetric."""
    stuns, rules = servers
    rules[0].outer = LIE
    published = Published()
    keeper = keeper_for(stuns, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1 or task.done())
        assert not task.done(), task.exception()
        before = stuns[1].requests
        await wait_until(lambda: stuns[1].requests >= before + 4)  # rechecks go to the honest ones
    finally:
        if not task.done():
            await stop(task)
    assert published.outers == [OUTER_A]
    assert "对称型" not in caplog.text
    assert str(LIE) in caplog.text  # the outlier is named


@pytest.mark.asyncio
async def test_one_lying_server_out_of_two_does_not_end_the_daemon(
    servers: tuple[list[FakeStunUdp], list[MappedRule]],
) -> None:
    """Only two servers and they disagree on the IP: no third to ask, so nothing is
    published yet, but the keeper keeps trying instead of exiting "symmetric"."""
    stuns, rules = servers
    rules[0].outer = LIE
    published = Published()
    keeper = keeper_for(stuns[:2], published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: keeper.failures >= 2 or task.done())
        assert not task.done(), task.exception()
    finally:
        if not task.done():
            await stop(task)
    assert LIE not in published.outers


@pytest.mark.asyncio
async def test_three_servers_three_answers_is_still_symmetric(
    servers: tuple[list[FakeStunUdp], list[MappedRule]],
) -> None:
    stuns, rules = servers
    for index, rule in enumerate(rules):
        rule.outer = ep("198.51.100.7", 50000 + index)
    published = Published()
    keeper = keeper_for(stuns, published)
    with pytest.raises(NatUnusable) as info:
        await asyncio.wait_for(keeper.run(), 5)
    assert info.value.key == "keeper.symmetric"
    assert published.items == []
