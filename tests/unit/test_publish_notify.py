"""The publisher's one hook for notifications (SPEC section 15): ``after_publish`` runs once per
mapping, as soon as DNS has been tried (success or failure), never again on its retries."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from nat1_traversal.backoff import Backoff
from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.errors import RateLimited
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.publish import Publisher

SETTINGS = DnsSettings(kind="webhook", id="http://127.0.0.1:9/x", token=Secret("t"), domain="example.com",
                       sub_domain="mc")
FAST = Backoff(first_delay=0.01, max_delay=0.02, jitter=0.0)


def mapping(port: int) -> Mapping:
    return Mapping("tcp", Endpoint(ipaddress.ip_address("192.168.1.2"), 25565),
                   Endpoint(ipaddress.ip_address("203.0.113.7"), port))


class FailingProvider(Provider):
    label = "failing"

    def __init__(self, fail_times: int) -> None:
        super().__init__(SETTINGS)
        self.fail_times = fail_times
        self.calls = 0
        self.done = asyncio.Event()

    async def sync(self, records: Sequence[Record]) -> int:
        self.calls += 1
        if self.fail_times:
            self.fail_times -= 1
            raise RateLimited("dns.rate_limited", provider="failing", detail="429")
        self.done.set()
        return 0


class Recorder:
    def __init__(self, provider: FailingProvider | None = None) -> None:
        self.seen: list[tuple[Mapping, int]] = []
        self.provider = provider
        self.called = asyncio.Event()

    def __call__(self, mapping: Mapping) -> None:
        self.seen.append((mapping, self.provider.calls if self.provider else 0))
        self.called.set()


@pytest.mark.asyncio
@pytest.mark.parametrize("fail_times", [0, 3])
async def test_after_publish_once_after_the_first_dns_try(fail_times: int) -> None:
    provider = FailingProvider(fail_times)
    recorder = Recorder(provider)
    publisher = Publisher(Config(dns=SETTINGS), provider=provider, retry=FAST, after_publish=recorder)
    publisher.submit(mapping(40000))
    await asyncio.wait_for(provider.done.wait(), 5)
    await publisher.aclose()
    assert recorder.seen == [(mapping(40000), 1)]  # after the first sync, not after the retries


@pytest.mark.asyncio
async def test_after_publish_with_no_dns() -> None:
    recorder = Recorder()
    publisher = Publisher(Config(), after_publish=recorder)
    publisher.submit(mapping(40001))
    await asyncio.wait_for(recorder.called.wait(), 5)
    publisher.submit(mapping(40002))
    task = publisher._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), 5)
    await publisher.aclose()
    assert [m for m, _ in recorder.seen] == [mapping(40001), mapping(40002)]
