"""Run the soak: build the world, start the product, warm up, inject the schedule, measure."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.soak import probes
from tests.soak.faults import Fault, Injector, plan
from tests.soak.probes import Probe, ProbeFailure
from tests.soak.report import Figures
from tests.soak.world import (
    BURST_IPS,
    KNOT_IP,
    MAPPING_RE,
    MOTDS,
    PROBE_IP,
    SUB,
    TRACEBACK,
    ZONE,
    World,
)

SRV_NAME = f"_minecraft._tcp.{SUB}.{ZONE}"
PROBE_PERIOD = 2.0
WATCH_PERIOD = 0.5  # while a fault with an outage is on and recovering: a closer look
PROBE_TIMEOUT = 1.0
RSS_PERIOD = 5.0
BEDROCK_PROBE_PORT = 40191  # the probing player's one Bedrock socket
START_DEADLINE = 60.0


def services_supported() -> bool:
    """Whether the product loads a ``services`` list (SPEC §11): then one process runs both."""
    import importlib.util

    return importlib.util.find_spec("nat1_traversal.service_config") is not None


class Probers:
    """Two probe loops (mcje, mcbe), each on a thread that lives in ``inet``."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.results: list[Probe] = []
        self.pong_port_wrong = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch_until = 0.0
        self._threads = [
            threading.Thread(target=self._run, args=(name, check), daemon=True, name=f"soak-probe-{name}")
            for name, check in (("mcje", self._java), ("mcbe", self._bedrock))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(PROBE_TIMEOUT * 4 + PROBE_PERIOD)

    def watch(self, until: float) -> None:
        self._watch_until = max(self._watch_until, until)

    def _run(self, service: str, check: Callable[[], str]) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                target, detail = "", ""
                try:
                    target = check()
                    ok = True
                except ProbeFailure as exc:
                    ok, detail = False, str(exc)
                except Exception as exc:  # a bug of the probe must not end the probing quietly
                    ok, detail = False, f"probe error {type(exc).__name__}: {exc}"
                probe = Probe(service, started, ok, target, detail, time.monotonic() - started)
                with self._lock:
                    self.results.append(probe)
                period = WATCH_PERIOD if time.monotonic() < self._watch_until else PROBE_PERIOD
                self._stop.wait(max(0.0, started + period - time.monotonic()))

        self.world.lab.call_in("inet", loop)

    def _java(self) -> str:
        ip, port = probes.resolve_srv(KNOT_IP, SRV_NAME, PROBE_IP, PROBE_TIMEOUT)
        motd = probes.java_status(ip, port, PROBE_IP, PROBE_TIMEOUT)
        if motd != MOTDS[0]:
            raise ProbeFailure(f"{ip}:{port} answered {motd!r}")
        return f"{ip}:{port}"

    def _bedrock(self) -> str:
        assert self.world.webhook is not None
        where = self.world.webhook.address()
        if where is None:
            raise ProbeFailure("the webhook was told no address yet")
        ip, port = where
        fields = probes.bedrock_status(ip, port, PROBE_IP, PROBE_TIMEOUT, BEDROCK_PROBE_PORT)
        if len(fields) < 2 or fields[1] != MOTDS[1]:
            raise ProbeFailure(f"{ip}:{port} answered {fields[:2]!r}")
        if len(fields) > 10 and fields[10] != str(port):
            with self._lock:
                self.pong_port_wrong += 1
        return f"{ip}:{port}"

    def snapshot(self) -> list[Probe]:
        with self._lock:
            return list(self.results)

    def wait_healthy(self, deadline: float) -> None:
        """Until the newest probe of each service succeeded (bounded)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            latest = {p.service: p for p in self.snapshot()}
            if all(s in latest and latest[s].ok for s in ("mcje", "mcbe")):
                return
            time.sleep(0.2)  # results of the probe threads: polled, bounded
        raise RuntimeError(f"the services did not become reachable in {deadline} s: {latest}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_burst(world: World, count: int) -> str:
    """``count`` Java and ``count`` Bedrock pings at once, to where a player would be sent."""

    def go() -> probes.BurstResult:
        try:
            java: tuple[str, int] | None = probes.resolve_srv(KNOT_IP, SRV_NAME, PROBE_IP, PROBE_TIMEOUT)
        except ProbeFailure:
            java = None
        assert world.webhook is not None
        return asyncio.run(probes.burst(java, world.webhook.address(), BURST_IPS, count, MOTDS))

    result = world.lab.call_in("inet", go)
    return (f"{result.tcp_ok}/{result.tcp_total} Java, {result.udp_ok}/{result.udp_total} Bedrock"
            f" in {result.seconds:.1f} s")


def count_mappings(world: World, service: str, one_process: bool) -> int:
    product = world.product_of(service)
    tag = {"mcje": "[java]", "mcbe": "[bedrock]"}[service] if one_process else ""
    return sum(1 for _at, text in product.out.snapshot() if MAPPING_RE.search(text) and tag in text)


def soak(seconds: float, seed: int, keepalive_interval: float = 5.0, webhook_fail: float = 0.05,
         one_process: bool | None = None, workdir: Path | None = None,
         say: Callable[[str], None] = print) -> Figures:
    """Run the soak for about ``seconds`` (after a warm-up) and return its figures."""
    one = services_supported() if one_process is None else one_process
    folder = workdir or Path(tempfile.mkdtemp(prefix="nat1-soak-"))
    world = World(folder, seed, keepalive_interval, webhook_fail)
    probers = Probers(world)
    faults: list[Fault] = []
    bursts: list[str] = []
    rss: dict[str, list[tuple[float, int]]] = {}
    died: list[str] = []
    try:
        world.start()
        world.start_products(one)
        say(f"soak: lab up, product started ({'one process' if one else 'two processes'}), output in {folder}")
        for service in ("mcje", "mcbe"):
            tag = "" if not one else {"mcje": "[java]", "mcbe": "[bedrock]"}[service]
            world.product_of(service).out.wait_for(MAPPING_RE, START_DEADLINE, tag)
        probers.start()
        probers.wait_healthy(START_DEADLINE)
        bursts.append("warm-up " + run_burst(world, 200))
        probers.wait_healthy(START_DEADLINE)
        base_writes = world.knot.writes()
        base_maps = {s: count_mappings(world, s, one) for s in ("mcje", "mcbe")}
        t0 = time.monotonic()
        say(f"soak: warmed up; {seconds:.0f} s of faults (seed {seed})")
        injector = Injector(world, lambda n: _record(bursts, run_burst(world, n)), probers.watch)
        schedule = iter(plan(seed, 10_000))
        next_sample = t0
        lifted = t0
        planned = next(schedule)
        while True:
            now = time.monotonic()
            if now >= next_sample:
                for product in world.products:
                    if product.proc.poll() is None:
                        rss.setdefault(product.name, []).append((now, rss_kib(product.proc.pid)))
                    elif product.name not in died:
                        died.append(product.name)
                next_sample = now + RSS_PERIOD
            if died:
                break
            if now >= lifted + planned.gap:
                if now + planned.duration > t0 + seconds:
                    break
                fault = injector.inject(planned)
                faults.append(fault)
                say(f"soak: +{fault.start - t0:6.1f} s {fault.kind} (held {fault.lifted - fault.start:.1f} s)"
                    f" {fault.note}")
                lifted = fault.lifted
                planned = next(schedule)
                continue
            time.sleep(max(0.0, min(next_sample, lifted + planned.gap) - time.monotonic()))
        # Let the last fault recover (bounded) before the probes stop.
        time.sleep(max(0.0, lifted + world.keepalive_interval + 6 - time.monotonic()))
        end = time.monotonic()
        for product in world.products:
            if product.proc.poll() is None:
                rss.setdefault(product.name, []).append((end, rss_kib(product.proc.pid)))
        probers.stop()
        maps = {s: count_mappings(world, s, one) - base_maps[s] for s in ("mcje", "mcbe")}
        writes = world.knot.writes() - base_writes
        codes = world.stop_products()
        tracebacks = sum(text.count(TRACEBACK) for p in world.products for _at, text in p.out.snapshot())
        assert world.webhook is not None
        return Figures(
            seed=seed, seconds=end - t0, t0=t0, mode="one process" if one else "two processes",
            keepalive_interval=keepalive_interval, faults=faults,
            probes=[p for p in probers.snapshot() if p.at >= t0], rss_kib=rss, tracebacks=tracebacks,
            exit_codes=codes, died=died, tcp_remaps=maps["mcje"], udp_remaps=maps["mcbe"], dns_writes=writes,
            webhook_accepted=world.webhook.accepted, webhook_failed=world.webhook.failed,
            pong_port_wrong=probers.pong_port_wrong, bursts=bursts, webhook_by_type=dict(world.webhook.by_type),
        )  # fmt: skip
    finally:
        probers.stop()
        world.close()


def _record(bursts: list[str], text: str) -> str:
    bursts.append(text)
    return text

