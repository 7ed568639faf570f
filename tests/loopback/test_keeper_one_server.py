"""One STUN server on a symmetric NAT (issue 12): the keeper uses the server's
OTHER-ADDRESS the way ``-t`` does, and a mapping that changes at every re-check is
not published over and over. Fake RFC 5780 servers on 127.0.0.1 / 127.0.0.2."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from nat1_traversal.keeper import Keeper, NatUnusable, UdpPath
from nat1_traversal.keeper.loop import MAX_FLAPS
from nat1_traversal.model import Endpoint
from tests.support.keeper_fakes import FakeStunUdp, MappedRule, close_rfc5780, start_rfc5780
from tests.support.keeper_kit import FAST, LO, OUTER_A, Published, stop
from tests.support.util import free_port, hp, wait_until


def keeper_for(server: FakeStunUdp, published: Published) -> Keeper:
    path = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), FAST)
    return Keeper(path, [hp(server.addr)], submit=published, timing=FAST)


@pytest.mark.asyncio
async def test_one_rfc5780_server_on_a_symmetric_nat_is_called_symmetric() -> None:
    """Used to publish the first answer: with one server there was nothing to compare."""
    rule = MappedRule()
    rule.per_destination = True
    primary = await start_rfc5780(rule)
    published = Published()
    try:
        with pytest.raises(NatUnusable) as info:
            await asyncio.wait_for(keeper_for(primary, published).run(), 5)
    finally:
        close_rfc5780(primary)
    assert info.value.key == "keeper.symmetric"
    assert "对称型 NAT" in str(info.value)
    assert published.items == []


@pytest.mark.asyncio
async def test_one_rfc5780_server_on_a_full_cone_publishes_once() -> None:
    rule = MappedRule()
    rule.outer = OUTER_A
    primary = await start_rfc5780(rule)
    published = Published()
    keeper = keeper_for(primary, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await wait_until(lambda: primary.requests >= 5)
    finally:
        await stop(task)
        close_rfc5780(primary)
    assert published.outers == [OUTER_A]
    assert primary.ip_alt is not None and primary.ip_alt.requests >= 1  # test II went to the other IP
    assert primary.alt is not None and primary.alt.requests >= 1  # test III to the other IP and port


@pytest.mark.asyncio
async def test_a_mapping_that_changes_at_every_recheck_is_published_once_then_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server without OTHER-ADDRESS and a NAT that maps every request anew: the first
    mapping is published, the next ones are held back until a re-check confirms them
    (none does), and the keeper gives up with the symmetric advice."""
    rule = MappedRule()
    rule.always_new = True
    server = await FakeStunUdp(rule).start()
    published = Published()
    caplog.set_level(logging.INFO)
    try:
        with pytest.raises(NatUnusable) as info:
            await asyncio.wait_for(keeper_for(server, published).run(), 10)
    finally:
        server.close()
    assert info.value.key == "keeper.mapping_unstable"
    assert "对称型 NAT" in str(info.value)
    assert len(published.items) == 1
    assert caplog.text.count("获取到映射地址") == 1
    assert server.requests >= MAX_FLAPS + 1


@pytest.mark.asyncio
async def test_a_remap_after_a_stable_mapping_is_published_at_once() -> None:
    """The guard is only for mappings that never survive a re-check."""
    rule = MappedRule()
    rule.outer = OUTER_A
    server = await FakeStunUdp(rule).start()
    published = Published()
    keeper = keeper_for(server, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        before = server.requests
        await wait_until(lambda: server.requests >= before + 3)  # it survived re-checks
        rule.outer = Endpoint(OUTER_A.ip, OUTER_A.port + 1)
        await wait_until(lambda: len(published.items) == 2)
    finally:
        await stop(task)
    assert keeper.flaps == 0
