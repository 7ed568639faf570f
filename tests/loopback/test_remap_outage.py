"""Network down for minutes, emulated in seconds: capped backoff, one warning, self-recovery.

The keeper runs on loopback against the in-process fakes with a timing whose
backoff cap is 0.1 s, so a 2 s outage is twenty cap periods, what twenty minutes
are with the default 60 s cap. The outage is either *refused* (servers gone: every
attempt fails at once, the case where a missing backoff would spin) or *silent*
(servers up but mute: every attempt costs its reply timeout). Checked:

* exactly one WARNING for the whole outage, not one per retry;
* the number of attempts in the window is bounded above (backoff is applied, no
  tight loop) and below (backoff is capped: the keeper keeps trying);
* after the servers come back, exactly one INFO says the network is back, soon;
* the mapping is re-published only if it changed during the outage.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
import pytest_asyncio

from nat1_traversal.backoff import Backoff
from nat1_traversal.keeper import Keeper, KeeperTiming, TcpPath, UdpPath
from nat1_traversal.model import Endpoint, HostPort
from tests.support.keeper_fakes import FakeHttp, FakeStunTcp, FakeStunUdp, MappedRule
from tests.support.keeper_kit import LO, OUTER_A, OUTER_B, Published, stop
from tests.support.util import free_port, hp, wait_until

OUTAGE_TIMING = KeeperTiming(
    keepalive_interval=0.05,
    recheck_every=2,
    reply_timeout=0.1,
    connect_timeout=0.2,
    backoff=Backoff(first_delay=0.01, max_delay=0.1),
)
WINDOW = 2.0  # seconds of outage measured: WINDOW / backoff_cap = 20 cap periods
JITTER = 0.5  # backoff.Backoff's default: a delay is in [cap * (1 - JITTER), cap]
# Failures before the delay reaches the cap: 0.01, 0.02, 0.04, 0.08, then 0.1.
RAMP_ROUNDS = 5

Mode = Literal["refused", "silent"]


@dataclass
class Lab:
    """Two STUN servers (and, for TCP, one keepalive server) that can go away and return."""

    proto: Literal["tcp", "udp"]
    rule: MappedRule = field(default_factory=MappedRule)
    stun_udp: list[FakeStunUdp] = field(default_factory=list)
    stun_tcp: list[FakeStunTcp] = field(default_factory=list)
    http: list[FakeHttp] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    async def start(self) -> None:
        self.rule.outer = OUTER_A
        if self.proto == "udp":
            self.stun_udp = [await FakeStunUdp(self.rule).start() for _ in range(2)]
        else:
            self.stun_tcp = [await FakeStunTcp(self.rule).start() for _ in range(2)]
            self.http = [await FakeHttp().start()]

    @property
    def stun_servers(self) -> list[HostPort]:
        return [hp(s.addr) for s in (self.stun_udp or self.stun_tcp)]

    @property
    def stun_requests(self) -> int:
        return sum(s.requests for s in (self.stun_udp or self.stun_tcp))

    def silent_cost(self, mode: Mode) -> float:
        """Upper bound of one failed attempt's own duration (before its backoff)."""
        if mode == "refused":
            return 0.05
        # UDP: every STUN server times out; TCP: the keepalive server does.
        count = len(self.stun_udp) if self.proto == "udp" else len(self.http)
        return count * OUTAGE_TIMING.reply_timeout + 0.05

    async def down(self, mode: Mode) -> None:
        if mode == "silent":
            for server in self._all():
                server.silent = True
            return
        self.ports = [s.addr[1] for s in (self.stun_udp or self.stun_tcp)] + [h.addr[1] for h in self.http]
        await self.close()

    async def up(self, mode: Mode) -> None:
        if mode == "silent":
            for server in self._all():
                server.silent = False
            return
        # Back on the very same ports, as a network coming back would be.
        if self.proto == "udp":
            self.stun_udp = [await FakeStunUdp(self.rule).start(port=p) for p in self.ports]
        else:
            self.stun_tcp = [await FakeStunTcp(self.rule).start(port=p) for p in self.ports[:2]]
            self.http = [await FakeHttp().start(port=self.ports[2])]

    def _all(self) -> list[FakeStunUdp | FakeStunTcp | FakeHttp]:
        return [*self.stun_udp, *self.stun_tcp, *self.http]

    async def close(self) -> None:
        for udp in self.stun_udp:
            udp.close()
        tcp_servers: list[FakeStunTcp | FakeHttp] = [*self.stun_tcp, *self.http]
        for server in tcp_servers:
            await server.close()


@pytest_asyncio.fixture
async def lab(request: pytest.FixtureRequest) -> AsyncIterator[Lab]:
    the_lab = Lab(request.param)
    await the_lab.start()
    yield the_lab
    await the_lab.close()


def _keeper(lab: Lab, published: Published) -> Keeper:
    if lab.proto == "udp":
        path: TcpPath | UdpPath = UdpPath(Endpoint(LO, free_port(socket.SOCK_DGRAM)), OUTAGE_TIMING)
    else:
        path = TcpPath(Endpoint(LO, free_port()), [hp(h.addr) for h in lab.http], OUTAGE_TIMING)
    return Keeper(path, lab.stun_servers, submit=published, timing=OUTAGE_TIMING)


def _ours(caplog: pytest.LogCaptureFixture, level: int, since: int = 0) -> list[str]:
    return [
        r.getMessage() for r in caplog.records[since:] if r.levelno == level and r.name.startswith("nat1_traversal")
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("lab", "mode", "changed"),
    [("udp", "refused", False), ("udp", "silent", True), ("tcp", "refused", True), ("tcp", "silent", False)],
    indirect=["lab"],
)
async def test_long_outage_backs_off_capped_warns_once_and_recovers(
    lab: Lab, mode: Mode, changed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nat1_traversal")
    published = Published()
    keeper = _keeper(lab, published)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await lab.down(mode)
        await wait_until(lambda: keeper.failures >= 1, timeout=5)
        first_failures = keeper.failures
        window_started = time.monotonic()
        await asyncio.sleep(WINDOW)  # the outage itself: a measured window, not a synchronisation
        rounds = keeper.failures - first_failures
        window = time.monotonic() - window_started

        if changed:
            lab.rule.outer = OUTER_B  # the NAT gave us a new address while we were cut off
        since = len(caplog.records)
        await lab.up(mode)
        back_at = time.monotonic()
        await wait_until(lambda: keeper.failures == 0, timeout=5)
        recovery = time.monotonic() - back_at
        # A few healthy keepalive rounds afterwards: nothing else is logged or published.
        requests = lab.stun_requests
        await wait_until(lambda: lab.stun_requests >= requests + 3, timeout=5)
    finally:
        await stop(task)

    cap = OUTAGE_TIMING.backoff.max_delay
    most = window / (cap * (1 - JITTER)) + RAMP_ROUNDS + 2  # every delay at its jittered minimum
    fewest = window / (cap + lab.silent_cost(mode)) / 2  # slack for a busy CI machine
    assert fewest <= rounds <= most, f"{rounds} attempts in {window:.2f}s (expected {fewest:.1f}..{most:.1f})"

    warnings = _ours(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert "重试" in warnings[0]

    infos = _ours(caplog, logging.INFO, since)
    assert sum("网络已恢复" in m for m in infos) == 1, infos
    # The backoff is capped: once the servers are back we are back within about one cap.
    assert recovery < cap + 4 * OUTAGE_TIMING.keepalive_interval + lab.silent_cost(mode) + 0.5

    if changed:
        assert [m.outer for m in published.items] == [OUTER_A, OUTER_B]
        assert infos.count(f"获取到映射地址： {OUTER_B}") == 1
        assert len(infos) == 2, infos
    else:
        assert [m.outer for m in published.items] == [OUTER_A]  # unchanged: not re-published
        assert infos == ["网络已恢复，映射保持正常"]
