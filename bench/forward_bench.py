"""Forward-mode benchmark: nat1_traversal's forwarders against the direct path and socat.

    python3 bench/forward_bench.py [--quick] [--out bench/RESULTS.md]

Everything runs on 127.0.0.1 with iperf3 and socat from Debian plus the echo
servers in bench/echo_server.py; every process is started here and stopped by
pid. Paths compared in the same run: direct (no forwarder), nat1 (our forwarder
on the standard asyncio loop), nat1+uvloop, socat (TCP-LISTEN/UDP-LISTEN, fork).
Forwarder CPU comes from /proc/<pid>/stat (socat: the parent plus its reaped
children). A full run takes about four minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")
PATHS = ("direct", "nat1", "nat1+uvloop", "socat")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime+stime plus reaped children's (socat's forked workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_tree_kib(pid: int) -> int:
    """Proportional set size of a process and its children (socat forks one per peer)."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            pids.append(int(child))
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        """SIGTERM to the process group this process leads (socat's forked
        workers included: they outlive their parent otherwise), then wait."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@dataclass
class Lab:
    procs: list[Proc] = field(default_factory=list)

    def start(self, argv: list[str], ready: bool = False, port: int | None = None) -> Proc:
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE if ready else subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(popen)
        self.procs.append(proc)
        if ready:
            assert popen.stdout is not None
            line = popen.stdout.readline()
            if b"READY" not in line:
                raise RuntimeError(f"{argv[:3]} did not start")
        if port is not None:
            wait_listening(port)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def wait_listening(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def path(lab: Lab, name: str, target: int, proto: str) -> Iterator[tuple[int, Proc | None]]:
    """Yield (port to use, forwarder process or None) for one path towards ``target``."""
    if name == "direct":
        yield target, None
        return
    port = free_port(socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    if name == "socat":
        kind = "UDP" if proto == "udp" else "TCP"
        argv = ["socat", f"{kind}-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"{kind}:127.0.0.1:{target}"]
        proc = lab.start(argv, port=None if proto == "udp" else port)
        if proto == "udp":
            time.sleep(0.2)
    else:
        argv = [PY, str(HERE / "forwarder_runner.py"), f"--{proto}", "--local", f"127.0.0.1:{port}",
                "--remote", f"127.0.0.1:{target}"]
        if "uvloop" in name:
            argv.append("--uvloop")
        if name.endswith(("-thread", "-loop")):  # experiments: force one UDP relay design
            argv += ["--udp-relay", name.rsplit("-", 1)[1]]
        proc = lab.start(argv, ready=True)
    try:
        yield port, proc
    finally:
        lab.stop(proc)


# -- measurements ----------------------------------------------------------------
def iperf(port: int, streams: int, reverse: bool, seconds: float) -> float:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-P", str(streams), "-J"]
    if reverse:
        argv.append("-R")
    out = subprocess.run(argv, capture_output=True, timeout=seconds + 20, check=True)
    result = json.loads(out.stdout)
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e9


async def conn_rate(port: int, count: int, concurrency: int = 50) -> float:
    payload = os.urandom(1024)
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(payload)
            assert await reader.readexactly(1024) == payload
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 60)
    return count / (time.perf_counter() - start)


def tcp_latency(port: int, rounds: int) -> tuple[float, float]:
    with socket.create_connection(("127.0.0.1", port), 5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = b"p" * 64
        samples = []
        for i in range(rounds + 200):
            t0 = time.perf_counter_ns()
            sock.sendall(msg)
            got = 0
            while got < 64:
                got += len(sock.recv(64 - got))
            if i >= 200:
                samples.append((time.perf_counter_ns() - t0) / 1000)
    return percentile(samples, 50), percentile(samples, 99)


def udp_rate(port: int, size: int, seconds: float, window: int = 16) -> float:
    """Request/response datagrams per second with ``window`` in flight."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(0.2)
        msg = b"u" * size
        for _ in range(window):
            sock.send(msg)
        done = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            try:
                sock.recv(65536)
                done += 1
            except TimeoutError:  # losses: refill the window
                for _ in range(window):
                    sock.send(msg)
                continue
            sock.send(msg)
        return done / seconds


def udp_latency(port: int, size: int, rounds: int) -> tuple[float, float]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.settimeout(1.0)
        msg = b"l" * size
        samples = []
        for i in range(rounds + 200):
            t0 = time.perf_counter_ns()
            sock.send(msg)
            sock.recv(65536)
            if i >= 200:
                samples.append((time.perf_counter_ns() - t0) / 1000)
    return percentile(samples, 50), percentile(samples, 99)


def percentile(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def idle_tcp_rss(port: int, proc: Proc, count: int) -> float:
    before = pss_tree_kib(proc.pid)
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), 5)
            s.sendall(b"x")
            socks.append(s)
        for s in socks:  # every pair is established end to end
            assert s.recv(1) == b"x"
        time.sleep(0.3)
        after = pss_tree_kib(proc.pid)
    finally:
        for s in socks:
            s.close()
    return (after - before) / count


def idle_udp_rss(port: int, proc: Proc, count: int) -> tuple[float, int]:
    before = pss_tree_kib(proc.pid)
    socks: list[socket.socket] = []
    answered = 0
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.connect(("127.0.0.1", port))
            s.send(b"x")
            socks.append(s)
        waiting = set(socks)
        deadline = time.monotonic() + 3.0
        while waiting and time.monotonic() < deadline:
            ready, _, _ = select.select(list(waiting)[:1000], [], [], 0.1)
            for s in ready:
                with contextlib.suppress(OSError):
                    s.recv(16)
                    answered += 1
                waiting.discard(s)
        time.sleep(0.3)
        after = pss_tree_kib(proc.pid)
    finally:
        for s in socks:
            s.close()
    # Unanswered clients may never have got a session: count those that did.
    return (after - before) / max(answered, 1), answered


@contextlib.contextmanager
def pinned(*pids: int) -> Iterator[None]:
    """Run the processes of a latency test on one CPU: on a small VM, which CPU a
    wake-up lands on changes a round trip by 50-100 µs, more than the forwarder
    itself adds; pinned, the figures show the forwarder's own cost."""
    saved = {}
    tids = [tid for pid in pids for tid in threads(pid)]
    for pid in tids:
        with contextlib.suppress(ProcessLookupError):
            saved[pid] = os.sched_getaffinity(pid)
    try:
        for pid in tids:
            with contextlib.suppress(ProcessLookupError):  # a socat worker just exited
                os.sched_setaffinity(pid, {0})
        yield
    finally:
        for pid, cpus in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, cpus)


# -- the run -----------------------------------------------------------------------
Row = dict[str, str]


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "-"


def run(quick: bool) -> list[tuple[str, dict[str, float], str]]:
    secs = 1.0 if quick else 3.0
    conns = 500 if quick else 2000
    rounds = 1000 if quick else 5000
    results: list[tuple[str, dict[str, float], str]] = []
    printed = 0

    def flush() -> None:
        nonlocal printed
        for row in results[printed:]:
            print_row(row)
        printed = len(results)

    lab = Lab()
    try:
        iperf_port, tcp_echo, udp_echo = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
        lab.start(["iperf3", "-s", "-p", str(iperf_port)], port=None)
        echo_tcp = lab.start([PY, str(HERE / "echo_server.py"), "tcp", str(tcp_echo)], ready=True)
        echo_udp = lab.start([PY, str(HERE / "echo_server.py"), "udp", str(udp_echo)], ready=True)
        time.sleep(0.3)

        for streams, reverse in ((1, False), (1, True), (4, False), (4, True)):
            label = f"TCP {streams} stream{'s' if streams > 1 else ''}{' reverse (-R)' if reverse else ''}, Gbit/s"
            values: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for name in PATHS:
                with path(lab, name, iperf_port, "tcp") as (port, proc):
                    c0 = cpu_seconds(proc.pid) if proc else 0.0
                    values[name] = iperf(port, streams, reverse, secs)
                    time.sleep(0.2)  # socat reaps its workers
                    if proc:
                        gbytes = values[name] * secs / 8
                        cpu[name] = (cpu_seconds(proc.pid) - c0) / gbytes
            results.append((label, values, "higher is better"))
            if streams == 1 and not reverse:
                results.append(("forwarder CPU seconds per GB (TCP 1 stream)", cpu, "lower is better"))
            flush()

        values = {}
        for name in PATHS:
            with path(lab, name, tcp_echo, "tcp") as (port, _proc):
                values[name] = asyncio.run(conn_rate(port, conns))
        results.append(("TCP connections/s (connect, echo 1 KiB, close; 50 at once)", values, "higher is better"))
        flush()

        p50s, p99s = {}, {}
        for name in PATHS:
            with path(lab, name, tcp_echo, "tcp") as (port, proc), pinned(*pids(proc, echo_tcp)):
                p50s[name], p99s[name] = tcp_latency(port, rounds)
        results.append(("TCP 64 B ping-pong p50, µs (one CPU)", p50s, "lower is better"))
        results.append(("TCP 64 B ping-pong p99, µs (one CPU)", p99s, "lower is better"))
        flush()

        for size in (100, 1400):
            rates, l50, l99 = {}, {}, {}
            for name in PATHS:
                with path(lab, name, udp_echo, "udp") as (port, _proc):
                    udp_latency(port, size, 50)  # warm-up, opens the session
                    rates[name] = udp_rate(port, size, secs)
                    with pinned(*pids(_proc, echo_udp)):
                        l50[name], l99[name] = udp_latency(port, size, rounds)
            results.append((f"UDP {size} B request/response per s (16 in flight)", rates, "higher is better"))
            results.append((f"UDP {size} B round trip p50, µs (one CPU)", l50, "lower is better"))
            results.append((f"UDP {size} B round trip p99, µs (one CPU)", l99, "lower is better"))
            flush()

        count = 300 if quick else 1000
        tcp_mem: dict[str, float] = {}
        udp_mem: dict[str, float] = {}
        note = ""
        for name in PATHS[1:]:
            with path(lab, name, tcp_echo, "tcp") as (port, proc):
                assert proc is not None
                tcp_mem[name] = idle_tcp_rss(port, proc, count)
            with path(lab, name, udp_echo, "udp") as (port, proc):
                assert proc is not None
                udp_mem[name], answered = idle_udp_rss(port, proc, count)
                if answered < count:
                    note += f" {name} answered {answered}/{count} UDP clients."
        results.append((f"memory per idle TCP connection, KiB ({count} open)", tcp_mem, "lower is better"))
        results.append((f"memory per UDP session, KiB ({count} sessions)", udp_mem, "lower is better" + note))
        flush()
    finally:
        lab.stop_all()
    return results


def threads(pid: int) -> list[int]:
    """Every thread of ``pid`` (affinity is per thread; the UDP relay runs on one)."""
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


def pids(*procs: Proc | None) -> list[int]:
    """The bench itself, the given processes and their children (socat's workers)."""
    found = [os.getpid()]
    for proc in procs:
        if proc is not None:
            found.append(proc.pid)
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
                found.extend(int(c) for c in children)
    return found


def print_row(row: tuple[str, dict[str, float], str]) -> None:
    label, values, note = row
    cells = "  ".join(f"{name}={values[name]:.1f}" for name in PATHS if name in values)
    print(f"{label}: {cells}  ({note})", flush=True)


def markdown(results: list[tuple[str, dict[str, float], str]]) -> str:
    head = "| measure | direct | nat1 | nat1+uvloop | socat | nat1 / socat | nat1 / direct | uvloop / socat |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    def cell(values: dict[str, float], name: str) -> str:
        v = values.get(name)
        return "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}")

    for label, values, _note in results:
        lines.append(
            f"| {label} | {cell(values, 'direct')} | {cell(values, 'nat1')} | {cell(values, 'nat1+uvloop')} | "
            f"{cell(values, 'socat')} | "
            f"{ratio(values.get('nat1', 0), values.get('socat', 0))} | "
            f"{ratio(values.get('nat1', 0), values.get('direct', 0)) if 'direct' in values else '-'} | "
            f"{ratio(values.get('nat1+uvloop', 0), values.get('socat', 0))} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test, not figures)")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    results = run(args.quick)
    table = markdown(results)
    print()
    print(table)
    print(f"bench took {time.monotonic() - started:.0f} s")
    if args.out:
        args.out.write_text(merge(args.out, table))


START, END = "<!-- bench table: start -->", "<!-- bench table: end -->"


def merge(out: Path, table: str) -> str:
    """Replace only the generated table in ``out``: the hand-written notes around
    the markers stay. A file without the markers gets them around the table."""
    block = f"{START}\n{table}{END}\n"
    text = out.read_text() if out.exists() else ""
    head, found, rest = text.partition(START)
    if found and END in rest:
        return head + block + "\n" + rest.split(END, 1)[1].lstrip("\n")
    return block + ("\n" + text if text else "")


if __name__ == "__main__":
    main()
