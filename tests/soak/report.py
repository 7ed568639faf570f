"""The soak's figures and its goals (pure: values in, values out)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tests.soak.faults import KINDS, Fault
from tests.soak.probes import Probe

SERVICES = ("mcje", "mcbe")
AVAILABILITY_GOAL = 0.99
RSS_GROWTH_GOAL_MB = 5.0
WRITES_PER_REMAP_GOAL = 2.0


@dataclass
class Figures:
    seed: int
    seconds: float
    t0: float  # time.monotonic() when the schedule began (after the warm-up)
    mode: str  # "one process" | "two processes"
    keepalive_interval: float
    faults: list[Fault]
    probes: list[Probe]
    rss_kib: dict[str, list[tuple[float, int]]]  # product name -> samples after the warm-up
    tracebacks: int
    exit_codes: dict[str, int | None]
    died: list[str]  # products that ended before the soak did
    tcp_remaps: int  # new mcje mappings after the first one
    udp_remaps: int
    dns_writes: int  # knotd updates after the first publish
    webhook_accepted: int
    webhook_failed: int
    pong_port_wrong: int
    webhook_by_type: dict[str, int] = field(default_factory=dict)
    bursts: list[str] = field(default_factory=list)

    @property
    def budget(self) -> float:
        return self.keepalive_interval + 6

    def in_outage(self, probe: Probe) -> bool:
        return any(
            probe.service in fault.affects and fault.start <= probe.at <= fault.lifted + self.budget
            for fault in self.faults
        )

    def availability(self, service: str) -> tuple[int, int]:
        """(succeeded, counted) of the probes of ``service`` outside every injected outage."""
        counted = [p for p in self.probes if p.service == service and not self.in_outage(p)]
        return sum(p.ok for p in counted), len(counted)

    def recovery(self, fault: Fault, service: str) -> float:
        """Seconds from the fault being lifted until ``service`` worked again (0: it never failed;
        inf: it had not recovered when the probes stopped)."""
        mine = [p for p in self.probes if p.service == service and p.at >= fault.start]
        if service in fault.affects:
            after = next((p for p in mine if p.at >= fault.lifted and p.ok), None)
            return math.inf if after is None else max(0.0, after.at - fault.lifted)
        later = [f.start for f in self.faults if f.start > fault.start]
        horizon = min([fault.lifted + self.budget, *later])  # the next fault is its own cause
        failures = [p for p in mine if p.at <= horizon and not p.ok]
        if not failures:
            return 0.0
        last = failures[-1]
        after = next((p for p in mine if p.at > last.at and p.ok), None)
        return math.inf if after is None else max(0.0, after.at - fault.lifted)

    def worst_recovery(self) -> dict[str, tuple[float, int]]:
        """kind -> (worst recovery over its faults and both services, how many faults)."""
        out: dict[str, tuple[float, int]] = {}
        for kind in KINDS:
            faults = [f for f in self.faults if f.kind == kind]
            if faults:
                out[kind] = (max(self.recovery(f, s) for f in faults for s in SERVICES), len(faults))
        return out

    def rss_growth_mb(self) -> dict[str, tuple[float, float, float]]:
        """product -> (first, last, growth) in MB over the samples after the warm-up."""
        out: dict[str, tuple[float, float, float]] = {}
        for name, samples in self.rss_kib.items():
            if samples:
                first, last = samples[0][1] / 1024, samples[-1][1] / 1024
                out[name] = (first, last, last - first)
        return out

    def writes_per_remap(self) -> float:
        return self.dns_writes / self.tcp_remaps if self.tcp_remaps else float(self.dns_writes)

    def goals(self) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for service in SERVICES:
            ok, counted = self.availability(service)
            share = ok / counted if counted else 0.0
            out.append((f"availability {service} {share * 100:.2f} % >= 99 %", share >= AVAILABILITY_GOAL))
        for kind, (worst, _n) in self.worst_recovery().items():
            out.append((f"recovery {kind} {worst:.1f} s <= {self.budget:g} s", worst <= self.budget))
        for name, (_first, _last, growth) in self.rss_growth_mb().items():
            out.append((f"RSS growth {name} {growth:+.2f} MB < 5 MB", growth < RSS_GROWTH_GOAL_MB))
        ratio = self.writes_per_remap()
        out.append((f"DNS writes per TCP remap {ratio:.2f} <= 2", ratio <= WRITES_PER_REMAP_GOAL))
        out.append((f"tracebacks {self.tracebacks} == 0", self.tracebacks == 0))
        alive = not self.died and all(code == 0 for code in self.exit_codes.values())
        out.append((f"ran to the end, exit 0 on SIGTERM {self.exit_codes} died={self.died}", alive))
        return out

    def passed(self) -> bool:
        return all(ok for _text, ok in self.goals())

    def render(self) -> str:
        lines = [
            f"soak: seed {self.seed}, {self.seconds:.0f} s after the warm-up, {self.mode},"
            f" keepalive_interval {self.keepalive_interval:g} s, {len(self.faults)} faults"
            f" ({', '.join(f'{k} {n}' for k, (_w, n) in self.worst_recovery().items())})",
        ]
        for service in SERVICES:
            ok, counted = self.availability(service)
            total = sum(p.service == service for p in self.probes)
            share = ok / counted * 100 if counted else 0.0
            lines.append(f"  availability {service}: {share:.2f} % ({ok}/{counted} probes outside injected"
                         f" outages; {total} probes in all)")
        worst = self.worst_recovery()
        lines.append("  worst recovery (s, from the fault being lifted; goal <= "
                     f"{self.budget:g}): " + ", ".join(f"{k} {w:.1f}" for k, (w, _n) in worst.items()))
        for name, (first, last, growth) in self.rss_growth_mb().items():
            peak = max(kib for _at, kib in self.rss_kib[name]) / 1024
            lines.append(f"  RSS {name}: {first:.1f} -> {last:.1f} MB ({growth:+.2f} MB), peak {peak:.1f} MB")
        lines.append(f"  DNS: {self.dns_writes} knotd updates for {self.tcp_remaps} TCP remaps"
                     f" ({self.writes_per_remap():.2f} per remap); webhook {self.webhook_accepted} accepted"
                     f" {self.webhook_by_type},"
                     f" {self.webhook_failed} failed, {self.udp_remaps} UDP remaps")
        lines.append(f"  tracebacks {self.tracebacks}; exit codes {self.exit_codes}; died early: {self.died or 'none'};"
                     f" Bedrock pongs advertising another port: {self.pong_port_wrong}")
        for text in self.bursts:
            lines.append(f"  burst: {text}")
        failing = [p for p in self.probes if not p.ok and not self.in_outage(p)]
        for probe in failing[:10]:
            lines.append(f"  failed probe (counted) {probe.service} at +{probe.at - self.t0:.1f} s:"
                         f" {probe.target} {probe.detail}")
        for text, ok in self.goals():
            lines.append(f"  [{'ok' if ok else 'MISSED'}] {text}")
        return "\n".join(lines)

    def timeline(self) -> str:
        """One line per fault with its recovery per service (for the log)."""
        t0 = self.t0
        out = []
        for fault in self.faults:
            recs = ", ".join(f"{s} {self.recovery(fault, s):.1f}" for s in SERVICES)
            out.append(f"  +{fault.start - t0:7.1f} s {fault.kind:<10} held {fault.lifted - fault.start:5.1f} s"
                       f" {fault.note:<24} recovery {recs} (t={fault.start:.2f})")
        return "\n".join(out)

    def summary(self) -> dict[str, object]:
        """The figures as plain JSON values."""
        return {
            "seed": self.seed, "seconds": round(self.seconds, 1), "mode": self.mode,
            "keepalive_interval": self.keepalive_interval,
            "faults": {k: n for k, (_w, n) in self.worst_recovery().items()},
            "availability": {s: list(self.availability(s)) for s in SERVICES},
            "worst_recovery": {k: round(w, 2) for k, (w, _n) in self.worst_recovery().items()},
            "rss_mb": {k: [round(v, 2) for v in t] for k, t in self.rss_growth_mb().items()},
            "dns_writes": self.dns_writes, "tcp_remaps": self.tcp_remaps, "udp_remaps": self.udp_remaps,
            "webhook": [self.webhook_accepted, self.webhook_failed], "webhook_by_type": self.webhook_by_type,
            "tracebacks": self.tracebacks,
            "exit_codes": self.exit_codes, "died": self.died, "pong_port_wrong": self.pong_port_wrong,
            "bursts": self.bursts, "goals": [[text, ok] for text, ok in self.goals()],
        }  # fmt: skip
