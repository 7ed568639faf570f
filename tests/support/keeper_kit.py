"""Keeper test values shared by the loopback suites: fast timing, addresses, a publish recorder."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest

from nat1_traversal.backoff import Backoff
from nat1_traversal.keeper import KeeperTiming
from nat1_traversal.model import Endpoint, Mapping

FAST = KeeperTiming(
    keepalive_interval=0.1,
    recheck_every=3,
    reply_timeout=0.3,
    connect_timeout=0.5,
    backoff=Backoff(first_delay=0.05, max_delay=0.2),
    probe_interval=0.05,
    watch_interval=0.2,
    probe_timeout=0.3,
)
LO = ipaddress.IPv4Address("127.0.0.1")
OUTER_A = Endpoint(ipaddress.IPv4Address("198.51.100.7"), 61001)
OUTER_B = Endpoint(ipaddress.IPv4Address("198.51.100.7"), 61002)


class Published:
    def __init__(self) -> None:
        self.items: list[Mapping] = []
        self.times: list[float] = []

    def __call__(self, mapping: Mapping) -> None:
        self.items.append(mapping)
        self.times.append(time.monotonic())

    @property
    def outers(self) -> list[Endpoint]:
        return [m.outer for m in self.items]


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2.0)


# --------------------------------------------------------------------------- pure parts
