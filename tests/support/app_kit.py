"""The app-level loopback kit: fake STUN/HTTP servers on 127.0.0.1 and a recording publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from nat1_traversal.config import Config
from nat1_traversal.model import Mapping
from tests.support.keeper_fakes import FakeHttp, FakeStunTcp, FakeStunUdp, MappedRule
from tests.support.keeper_kit import FAST, OUTER_A
from tests.support.util import hp


class FakePublisher:
    def __init__(self) -> None:
        self.items: list[Mapping] = []
        self.closed = False

    def submit(self, mapping: Mapping) -> None:
        self.items.append(mapping)

    async def aclose(self) -> None:
        self.closed = True


class Fakes:
    def __init__(self) -> None:
        self.rule = MappedRule()
        self.rule.outer = OUTER_A
        self.stun_tcp: list[FakeStunTcp] = []
        self.stun_udp: list[FakeStunUdp] = []
        self.http: list[FakeHttp] = []

    def config(self, **fields: object) -> Config:
        base: dict[str, object] = {
            "stun_tcp": tuple(hp(s.addr) for s in self.stun_tcp),
            "stun_udp": tuple(hp(s.addr) for s in self.stun_udp),
            "keepalive_tcp": tuple(hp(h.addr) for h in self.http),
            "keepalive_interval": FAST.keepalive_interval,
            "status": None,  # no status server unless a test asks for one on its own port
            "reach": False,  # the fake mapped addresses must never be contacted (hairpin)
            "upnp": False,  # never the real home router (SPEC §14)
        }
        base.update(fields)
        return Config(**base)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def fakes() -> AsyncIterator[Fakes]:
    f = Fakes()
    f.stun_tcp = [await FakeStunTcp(f.rule).start() for _ in range(2)]
    f.stun_udp = [await FakeStunUdp(f.rule).start() for _ in range(2)]
    f.http = [await FakeHttp().start()]
    yield f
    tcp_servers: list[FakeStunTcp | FakeHttp] = [*f.stun_tcp, *f.http]
    for server in tcp_servers:
        await server.close()
    for udp in f.stun_udp:
        udp.close()
