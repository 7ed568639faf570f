"""The seeded fault schedule (pure) and the injectors (they act on the ``World``).

One fault at a time: the next one starts 8-15 s after the previous one was lifted, so
each recovery is measured against one cause. The kinds are drawn from a shuffled bag,
so every kind comes up once before any comes up again (a 3-minute run sees them all).

========== ================================================== ==========================
kind       what is done                                       injected outage for
========== ================================================== ==========================
remap      the router forgets every TCP and UDP mapping        mcje, mcbe
stun_down  one STUN address drops all STUN packets, 10-20 s    (none: players need no STUN)
keepalive  the keepalive HTTP server is SIGKILLed, back 2-5 s  (none)
dns_down   knotd is stopped for 10 s; 1 s in, the TCP mapping  mcje (its name does not
           is forgotten, so the new one must wait for it      resolve; the publish waits)
link_down  the router's outside link is down 3-6 s             mcje, mcbe
burst      200 Java status pings and 200 Bedrock pings at once (none)
webhook    the webhook fails 50 % for 10-20 s; 1 s in, the     mcbe
           UDP mapping is forgotten, so it must get through
========== ================================================== ==========================

A fault's outage window is [start, lifted + keepalive_interval + 6 s]; probes inside it
do not count for availability, and the recovery time is measured from ``lifted``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.lab import STUN_IPS
from tests.soak.world import World

KINDS: tuple[str, ...] = ("remap", "stun_down", "keepalive", "dns_down", "link_down", "burst", "webhook")
OUTAGE: dict[str, tuple[str, ...]] = {
    "remap": ("mcje", "mcbe"),
    "dns_down": ("mcje",),
    "link_down": ("mcje", "mcbe"),
    "webhook": ("mcbe",),
}
GAP = (8.0, 15.0)
DNS_DOWN_SECONDS = 10.0
BURST_SIZE = 200


@dataclass(frozen=True, slots=True)
class Planned:
    kind: str
    gap: float  # seconds after the previous fault was lifted
    duration: float  # how long the fault is held (0: a single event)
    target: str = ""  # stun_down: the address taken down


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    start: float  # time.monotonic()
    lifted: float
    note: str = ""

    @property
    def affects(self) -> tuple[str, ...]:
        return OUTAGE.get(self.kind, ())


def plan(seed: int, count: int) -> list[Planned]:
    """The first ``count`` faults of the schedule of ``seed`` (the same seed, the same faults)."""
    rng = random.Random(seed)
    out: list[Planned] = []
    bag: list[str] = []
    while len(out) < count:
        if not bag:
            bag = list(KINDS)
            rng.shuffle(bag)
        kind = bag.pop()
        gap = rng.uniform(*GAP)
        duration, target = 0.0, ""
        if kind == "stun_down":
            duration, target = rng.uniform(10, 20), rng.choice(STUN_IPS)
        elif kind == "keepalive":
            duration = rng.uniform(2, 5)
        elif kind == "dns_down":
            duration = DNS_DOWN_SECONDS
        elif kind == "link_down":
            duration = rng.uniform(3, 6)
        elif kind == "webhook":
            duration = rng.uniform(10, 20)
        out.append(Planned(kind, round(gap, 2), round(duration, 2), target))
    return out


class Injector:
    """Carries out a ``Planned`` fault. ``world`` is the soak's World; ``burst`` runs a burst
    of players and returns a one-line summary; ``watch`` asks the probes to look closely."""

    def __init__(self, world: World, burst: Callable[[int], str], watch: Callable[[float], None]) -> None:
        self.world = world
        self.burst = burst
        self.watch = watch
        self.budget = world.keepalive_interval + 6

    def inject(self, fault: Planned) -> Fault:
        world = self.world
        start = time.monotonic()
        note = ""
        if fault.kind in OUTAGE:
            self.watch(start + fault.duration + self.budget + 5)
        if fault.kind == "remap":
            world.drop_mapping()
        elif fault.kind == "stun_down":
            world.stun_filter(fault.target)
            try:
                _hold(start, fault.duration)
            finally:
                world.stun_filter(None)
            note = fault.target
        elif fault.kind == "keepalive":
            world.kill_keepalive()
            try:
                _hold(start, fault.duration)
            finally:
                world.start_keepalive()
        elif fault.kind == "dns_down":
            world.knot.stop()
            try:
                _hold(start, 1.0)
                world.drop_mapping("tcp")
                _hold(start, fault.duration)
            finally:
                world.knot.start()
        elif fault.kind == "link_down":
            world.link(up=False)
            try:
                _hold(start, fault.duration)
            finally:
                world.link(up=True)
        elif fault.kind == "burst":
            note = self.burst(BURST_SIZE)
        elif fault.kind == "webhook":
            assert world.webhook is not None
            base = world.webhook.fail_fraction
            world.webhook.set_failing(0.5)
            try:
                _hold(start, 1.0)
                world.drop_mapping("udp")
                _hold(start, fault.duration)
            finally:
                world.webhook.set_failing(base)
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")
        return Fault(fault.kind, start, time.monotonic(), note)


def _hold(start: float, seconds: float) -> None:
    """Keep a fault in place until ``seconds`` after ``start`` (the schedule's own clock)."""
    remaining = start + seconds - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
