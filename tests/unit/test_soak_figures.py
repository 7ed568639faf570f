"""The chaos soak's pure parts: the seeded schedule, and figures that fail when a goal is missed."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from tests.soak.faults import KINDS, Fault, plan
from tests.soak.probes import Probe
from tests.soak.report import Figures


def test_the_schedule_is_seeded_and_shows_every_kind_early() -> None:
    first = plan(1, 20)
    assert first == plan(1, 20)
    assert first != plan(2, 20)
    assert {fault.kind for fault in first[: len(KINDS)]} == set(KINDS)
    assert all(8 <= fault.gap <= 15 for fault in first)
    ranges = {"stun_down": (10, 20), "keepalive": (2, 5), "dns_down": (10, 10), "link_down": (3, 6),
              "webhook": (10, 20)}
    for fault in first:
        low, high = ranges.get(fault.kind, (0, 0))
        assert low <= fault.duration <= high, fault


def figures(probes: list[Probe], faults: list[Fault], **changes: Any) -> Figures:
    base = Figures(
        seed=1, seconds=100.0, t0=0.0, mode="one process", keepalive_interval=5.0, faults=faults, probes=probes,
        rss_kib={"p": [(0.0, 40_000), (100.0, 40_500)]}, tracebacks=0, exit_codes={"p": 0}, died=[],
        tcp_remaps=2, udp_remaps=2, dns_writes=2, webhook_accepted=8, webhook_failed=1, pong_port_wrong=0,
    )  # fmt: skip
    return replace(base, **changes)


def steady(service: str, start: float, end: float, ok: bool = True, step: float = 2.0) -> list[Probe]:
    count = int((end - start) / step)
    return [Probe(service, start + n * step, ok, "203.0.113.1:61000", "", 0.01) for n in range(count)]


def test_a_remap_outage_is_excluded_and_its_recovery_measured() -> None:
    remap = Fault("remap", 50.0, 50.0)
    probes = [*steady("mcje", 0, 50), *steady("mcje", 50.2, 54, ok=False, step=0.5),
              *steady("mcje", 54.5, 100), *steady("mcbe", 0, 100)]  # fmt: skip
    result = figures(sorted(probes, key=lambda p: p.at), [remap])
    ok, counted = result.availability("mcje")
    assert ok == counted > 0
    assert math.isclose(result.recovery(remap, "mcje"), 4.5)
    assert result.recovery(remap, "mcbe") == 0.0
    assert result.passed(), result.render()


def test_every_missed_goal_fails_the_soak() -> None:
    remap = Fault("remap", 50.0, 50.0)
    slow = [*steady("mcje", 0, 50), *steady("mcje", 50.2, 70, ok=False, step=0.5), *steady("mcje", 70, 100),
            *steady("mcbe", 0, 100)]  # fmt: skip
    assert not figures(slow, [remap]).passed()  # recovered after 20 s > 11 s, and failures outside the window
    healthy = [*steady("mcje", 0, 100), *steady("mcbe", 0, 100)]
    burst = Fault("burst", 30.0, 30.2)
    flaky = [p if not 30 <= p.at <= 40 else Probe(p.service, p.at, False, "", "timeout", 1.0) for p in healthy]
    assert not figures(flaky, [burst]).passed()  # a fault without an injected outage counts against availability
    assert figures(healthy, [burst]).passed()
    assert not figures(healthy, [], tracebacks=1).passed()
    assert not figures(healthy, [], rss_kib={"p": [(0.0, 40_000), (100.0, 46_000)]}).passed()
    assert not figures(healthy, [], dns_writes=5).passed()
    assert not figures(healthy, [], exit_codes={"p": 1}).passed()
    assert not figures(healthy, [], died=["p"]).passed()
