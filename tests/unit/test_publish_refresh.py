"""Publisher.refresh: the newest mapping's DNS records once more (a shared A record came to this
service, SPEC section 11), after the publish in flight, without on_change or a notification."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.publish import Publisher

pytestmark = pytest.mark.asyncio
SETTINGS = DnsSettings(kind="webhook", id="http://127.0.0.1:9/x", token=Secret("t"), domain="example.com",
                       sub_domain="mc")
INNER = Endpoint(ipaddress.ip_address("192.168.1.2"), 25565)


def mapping(port: int) -> Mapping:
    return Mapping("tcp", INNER, Endpoint(ipaddress.ip_address("203.0.113.7"), port))


class GatedProvider(Provider):
    label = "gated"

    def __init__(self) -> None:
        super().__init__(SETTINGS)
        self.synced: list[tuple[Record, ...]] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.cancelled = 0

    async def sync(self, records: Sequence[Record]) -> int:
        self.entered.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        self.synced.append(tuple(records))
        return 0  # nothing differed: no read-back


def publisher(provider: GatedProvider, notified: list[Mapping]) -> Publisher:
    return Publisher(Config(type="mcje", dns=SETTINGS), provider=provider, after_publish=notified.append)


async def idle(pub: Publisher) -> None:
    task = pub._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), 5)


async def test_refresh_publishes_the_records_again_without_a_notification() -> None:
    provider, notified = GatedProvider(), list[Mapping]()
    pub = publisher(provider, notified)
    pub.submit(mapping(40000))
    await idle(pub)
    pub.refresh()
    await idle(pub)
    assert len(provider.synced) == 2 and provider.synced[0] == provider.synced[1]
    assert notified == [mapping(40000)]  # the mapping did not change: one notification
    await pub.aclose()


async def test_refresh_waits_for_the_publish_in_flight() -> None:
    provider, notified = GatedProvider(), list[Mapping]()
    pub = publisher(provider, notified)
    provider.gate = asyncio.Event()
    pub.submit(mapping(40000))
    await asyncio.wait_for(provider.entered.wait(), 5)
    pub.refresh()
    await asyncio.sleep(0)
    provider.gate.set()
    await idle(pub)
    assert provider.cancelled == 0 and len(provider.synced) == 2
    assert notified == [mapping(40000)]
    await pub.aclose()


async def test_a_newer_mapping_cancels_a_waiting_refresh_and_the_publish_it_waits_for() -> None:
    provider, notified = GatedProvider(), list[Mapping]()
    pub = publisher(provider, notified)
    provider.gate = asyncio.Event()
    pub.submit(mapping(40000))
    await asyncio.wait_for(provider.entered.wait(), 5)
    pub.refresh()
    await asyncio.sleep(0)
    provider.gate = None
    pub.submit(mapping(40001))
    await idle(pub)
    assert provider.cancelled == 1  # the old publish did not run on unowned
    assert [records[0].data for records in provider.synced] == ["203.0.113.7"]
    assert notified == [mapping(40001)]
    await pub.aclose()


async def test_refresh_before_any_mapping_or_after_close_does_nothing() -> None:
    provider, notified = GatedProvider(), list[Mapping]()
    pub = publisher(provider, notified)
    pub.refresh()
    assert pub._task is None
    pub.submit(mapping(40000))
    await idle(pub)
    await pub.aclose()
    pub.refresh()
    assert pub._task is None and len(provider.synced) == 1
