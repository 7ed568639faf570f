"""End to end in the NAT lab: the real CLI in ``home``, players and servers in ``inet``.

FULL CONE: for mcje (TCP) and mcbe (UDP), in shared-port mode (the game server
runs under LD_PRELOAD=hook_bind.so and sets no SO_REUSEPORT itself) and in forward
mode, a player in ``inet`` gets the real status reply at the logged address; the
NAT then forgets every mapping and the new one is logged, published (on_change)
and reachable within keepalive_interval + 3 s; the first STUN server is killed
and the next one carries on. SYMMETRIC and PORT RESTRICTED: a Chinese explanation
and exit 1 instead of a mapping that cannot work.

Only lab addresses are used (10.0.0.0/24, 203.0.113.0/24 inside our namespaces).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.lab import HOME_IP, ROUTER_OUTSIDE_IP, STUN_IPS, NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (pytest fixture)
from tests.support.ci import require_root_tools

REPO = Path(__file__).resolve().parents[2]
EXTRA_STUN_IP = "203.0.113.12"  # a STUN server of our own, first in the list, killed mid-test
KEEPALIVE_INTERVAL = 2
MAPPING_RE = re.compile(r"获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1", "NAT1_LANG": "zh"}

pytestmark = [pytest.mark.netns, pytest.mark.slow]


@dataclass
class Line:
    at: float
    text: str


@dataclass
class CliRun:
    """The nat1_traversal process in ``home``, its output read by a thread."""

    proc: subprocess.Popen[bytes]
    lines: list[Line] = field(default_factory=list)
    _queue: queue.Queue[Line | None] = field(default_factory=queue.Queue)

    def start_reader(self) -> None:
        def read() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                self._queue.put(Line(time.monotonic(), raw.decode("utf-8", "replace").rstrip()))
            self._queue.put(None)

        threading.Thread(target=read, daemon=True, name="cli-reader").start()

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float, after: int = 0) -> tuple[Line, re.Match[str]]:
        """The first line from index ``after`` on matching ``pattern`` (bounded wait)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        for line in self.lines[after:]:
            match = regex.search(line.text)
            if match:
                return line, match
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{regex.pattern!r} not logged in {timeout}s:\n" + self.dump())
            try:
                got = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if got is None:
                raise AssertionError(f"process ended before {regex.pattern!r}:\n" + self.dump())
            line = got
            self.lines.append(line)
            match = regex.search(line.text)
            if match:
                return line, match

    def drain_until_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("process did not exit:\n" + self.dump())
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                return self.proc.wait(timeout=5)
            self.lines.append(line)

    def dump(self) -> str:
        return "\n".join(line.text for line in self.lines[-60:])


@pytest.fixture(scope="module")
def hook_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("make", "gcc")
    out = tmp_path_factory.mktemp("hook") / "hook_bind.so"
    subprocess.run(["make", "-s", "-C", str(REPO / "hook_bind"), f"OUT={out}"], check=True, timeout=120)
    return out


@pytest.fixture
def lab(nat_lab: NatLab) -> Iterator[NatLab]:  # noqa: F811
    """The shared lab plus our own keepalive HTTP server and a first, killable STUN server."""
    nat_lab.run("inet", ["ip", "addr", "add", f"{EXTRA_STUN_IP}/24", "dev", "i0"])
    try:
        start_server(nat_lab, "inet", "http", STUN_IPS[0], 80)
        yield nat_lab
    finally:
        nat_lab.run("inet", ["ip", "addr", "del", f"{EXTRA_STUN_IP}/24", "dev", "i0"], check=False)


def start_server(
    lab: NatLab, ns: str, kind: str, host: str, port: int, motd: str = "", preload: Path | None = None
) -> subprocess.Popen[bytes]:
    env = dict(ENV)
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    argv = [sys.executable, "-m", "tests.support.e2e_servers", kind, host, str(port)]
    if motd:
        argv.append(motd)
    proc = lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO))
    assert proc.stdout is not None
    ready = proc.stdout.readline()  # the server prints READY once it listens (or exits)
    assert ready.strip() == b"READY", f"{kind} server did not start"
    return proc


def write_config(tmp_path: Path, service_type: str, stun: list[str] | None = None) -> tuple[Path, Path]:
    changes = tmp_path / "changes.txt"
    hook = tmp_path / "on_change.sh"
    hook.write_text(f'#!/bin/sh\necho "$@" >> {changes}\n')
    hook.chmod(0o755)
    stun = stun or [f"{EXTRA_STUN_IP}:3478", f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"]
    config = {
        "type": service_type,
        "dns": "no_dns",
        "stun_tcp": stun,
        "stun_udp": stun,
        "keepalive_tcp": [f"{STUN_IPS[0]}:80"],
        "keepalive_interval": KEEPALIVE_INTERVAL,
        "on_change": str(hook),
        "status": False,
        "reach_check": [],
        "upnp": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path, changes


def start_cli(lab: NatLab, config: Path, *args: str) -> CliRun:
    proc = lab.popen(
        "home",
        [sys.executable, "-m", "nat1_traversal", "-c", str(config), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=str(config.parent),
    )  # fmt: skip
    run = CliRun(proc)
    run.start_reader()
    return run


def query(lab: NatLab, service_type: str, ip: str, port: int) -> str:
    """The product's own status query, run by a player in ``inet``."""
    option = "-qj" if service_type == "mcje" else "-qb"
    done = lab.run("inet", [sys.executable, "-m", "nat1_traversal", option, f"{ip}:{port}"], env=ENV, cwd=str(REPO))
    return done.stdout


def wait_changes(changes: Path, count: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = changes.read_text().splitlines() if changes.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)  # a file written by another process: polling is the only signal


def stop_cli(lab: NatLab, run: CliRun) -> tuple[int, float]:
    started = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGTERM)
    code = run.drain_until_exit(5)
    elapsed = time.monotonic() - started
    lab.stop(run.proc)
    return code, elapsed


CASES = [
    pytest.param("mcje", "shared", id="mcje-shared"),
    pytest.param("mcje", "forward", id="mcje-forward"),
    pytest.param("mcbe", "shared", id="mcbe-shared"),
    pytest.param("mcbe", "forward", id="mcbe-forward"),
]


def full_cone_scenario(
    lab: NatLab, tmp_path: Path, service_type: str, motd: str, cli_args: list[str], first_stun: object
) -> tuple[float, float]:
    """Map, reach, remap, reach, kill the first STUN server, remap, reach, stop."""
    proto = "tcp" if service_type == "mcje" else "udp"
    port = int(cli_args[1].lstrip(":"))
    config, changes = write_config(tmp_path, service_type)
    run = start_cli(lab, config, *cli_args)
    try:
        # 1. The mapping is logged, published, and a player gets the real status through it.
        _line, match = run.wait_for(MAPPING_RE, 20)
        ip, outer = match.group(1), int(match.group(2))
        assert ip == ROUTER_OUTSIDE_IP and outer != port  # the lab NAT never keeps the port
        run.wait_for(re.escape(motd), 5)  # the MOTD is logged once the server answers
        assert wait_changes(changes, 1) == [f"{proto} {HOME_IP} {port} {ip} {outer} {service_type}-{port}"]
        assert motd in query(lab, service_type, ip, outer)

        # 2. The NAT forgets every mapping: a new one is found, logged and reachable.
        seen = len(run.lines)
        lost_at = time.monotonic()
        lab.drop_mapping()
        line, match = run.wait_for(MAPPING_RE, KEEPALIVE_INTERVAL + 10, after=seen)
        remap_seconds = line.at - lost_at
        new_outer = int(match.group(2))
        assert new_outer != outer
        assert remap_seconds <= KEEPALIVE_INTERVAL + 3, run.dump()
        assert wait_changes(changes, 2)[1] == f"{proto} {HOME_IP} {port} {ip} {new_outer} {service_type}-{port}"
        assert motd in query(lab, service_type, ip, new_outer)

        # 3. The first STUN server dies: the next one is used for the next remap.
        lab.stop(first_stun)  # type: ignore[arg-type]
        seen = len(run.lines)
        lost_at = time.monotonic()
        lab.drop_mapping()
        line, match = run.wait_for(MAPPING_RE, KEEPALIVE_INTERVAL + 15, after=seen)
        third_outer = int(match.group(2))
        assert third_outer not in (outer, new_outer)
        assert motd in query(lab, service_type, ip, third_outer)
        fallback_seconds = line.at - lost_at

        # 4. Nothing is published twice: one line per mapping.
        time.sleep(KEEPALIVE_INTERVAL * 2)  # let a few keepalives pass: they must not republish
        mapped_lines = [entry.text for entry in run.lines if MAPPING_RE.search(entry.text)]
        assert len(mapped_lines) == 3, run.dump()
        assert len(wait_changes(changes, 3)) == 3
        assert sum(motd in entry.text for entry in run.lines) == 1, "MOTD logged once, not per poll"

        # 5. SIGTERM: exit 0 within a second.
        code, elapsed = stop_cli(lab, run)
        assert code == 0, run.dump()
        assert elapsed < 1.0
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
    return remap_seconds, fallback_seconds


@pytest.mark.parametrize(("service_type", "mode"), CASES)
def test_full_cone_end_to_end(
    lab: NatLab, hook_so: Path, tmp_path: Path, service_type: str, mode: str, record_property: object
) -> None:
    port = 25565 if service_type == "mcje" else 19132
    motd = f"lab {service_type} {mode}"
    first_stun = start_server(lab, "inet", "stun", EXTRA_STUN_IP, 3478)
    if mode == "shared":
        start_server(lab, "home", service_type, "0.0.0.0", port, motd, preload=hook_so)
        cli_args = ["-l", f":{port}"]
    else:
        start_server(lab, "home", service_type, "127.0.0.1", port + 1, motd)
        cli_args = ["-l", f":{port}", "-r", f"127.0.0.1:{port + 1}"]
    remap, fallback = full_cone_scenario(lab, tmp_path, service_type, motd, cli_args, first_stun)
    print(f"{service_type}-{mode}: remap {remap:.2f}s, after STUN kill {fallback:.2f}s")
    record_property("remap_seconds", round(remap, 2))  # type: ignore[operator]


@pytest.fixture(scope="module")
def java_status_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("java", "javac")
    out = tmp_path_factory.mktemp("java")
    source = REPO / "tests" / "java_keeper" / "McStatus.java"
    subprocess.run(["javac", "-d", str(out), str(source)], check=True, timeout=120)
    return out


def test_full_cone_shared_port_with_a_real_jvm(
    lab: NatLab, hook_so: Path, java_status_class: Path, tmp_path: Path
) -> None:
    motd = "lab jvm shared"
    first_stun = start_server(lab, "inet", "stun", EXTRA_STUN_IP, 3478)
    env = {**ENV, "LD_PRELOAD": str(hook_so)}
    argv = ["java", "-Xshare:auto", "-Xmx64m", "-cp", str(java_status_class), "McStatus", "0.0.0.0", "25565", motd]
    java = lab.popen("home", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert java.stdout is not None and java.stderr is not None
    assert java.stdout.readline().strip() == b"READY"
    remap, fallback = full_cone_scenario(lab, tmp_path, "mcje", motd, ["-l", ":25565"], first_stun)
    print(f"jvm-shared: remap {remap:.2f}s, after STUN kill {fallback:.2f}s")


def test_idle_keeper_cpu_and_memory(lab: NatLab, tmp_path: Path, record_property: object) -> None:
    """Forward mode, default 10 s keepalive, idle for 30 s: < 1 % of a core, < 40 MB RSS."""
    start_server(lab, "home", "mcje", "127.0.0.1", 25566, "idle")
    config, _changes = write_config(tmp_path, "mcje")
    data = json.loads(config.read_text())
    data["keepalive_interval"] = 10
    data["stun_tcp"] = data["stun_tcp"][1:]  # no dead first server: a plain idle keeper
    data["stun_udp"] = data["stun_udp"][1:]
    config.write_text(json.dumps(data))
    run = start_cli(lab, config, "-l", ":25565", "-r", "127.0.0.1:25566")
    try:
        run.wait_for(MAPPING_RE, 20)
        time.sleep(2)  # past start-up (imports, first probes)
        ticks = os.sysconf("SC_CLK_TCK")
        cpu_before, wall_before = cpu_seconds(run.proc.pid, ticks), time.monotonic()
        time.sleep(30)
        cpu = cpu_seconds(run.proc.pid, ticks) - cpu_before
        wall = time.monotonic() - wall_before
        rss_mb = rss_kib(run.proc.pid) / 1024
        code, _elapsed = stop_cli(lab, run)
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
    share = cpu / wall
    print(f"idle keeper: CPU {share * 100:.3f} % of a core, RSS {rss_mb:.1f} MB")
    record_property("idle_cpu_percent", round(share * 100, 3))  # type: ignore[operator]
    record_property("rss_mb", round(rss_mb, 1))  # type: ignore[operator]
    assert code == 0
    assert share < 0.01
    assert rss_mb < 40


def cpu_seconds(pid: int, ticks: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(
    ("kind", "service_type", "mode", "expected"),
    [
        pytest.param("symmetric", "mcje", "forward", "对称型 NAT", id="symmetric-mcje"),
        pytest.param("symmetric", "mcbe", "forward", "对称型 NAT", id="symmetric-mcbe"),
        pytest.param("portrestricted", "mcbe", "forward", "端口受限锥形", id="portrestricted-mcbe"),
    ],
)
def test_unusable_nat_is_explained(
    lab: NatLab, hook_so: Path, tmp_path: Path, kind: str, service_type: str, mode: str, expected: str
) -> None:
    lab.set_nat(kind)
    port = 25565 if service_type == "mcje" else 19132
    start_server(lab, "inet", "stun", EXTRA_STUN_IP, 3478)
    if mode == "shared":
        start_server(lab, "home", service_type, "0.0.0.0", port, "x", preload=hook_so)
        cli_args = ["-l", f":{port}"]
    else:
        start_server(lab, "home", service_type, "127.0.0.1", port + 1, "x")
        cli_args = ["-l", f":{port}", "-r", f"127.0.0.1:{port + 1}"]
    config, changes = write_config(tmp_path, service_type)
    run = start_cli(lab, config, *cli_args)
    try:
        code = run.drain_until_exit(30)
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
    output = run.dump()
    assert code == 1, output
    assert expected in output and "NAT" in output
    assert not MAPPING_RE.search(output)
    assert not changes.exists()


@pytest.mark.parametrize(
    ("kind", "service_type", "mode", "expected"),
    [
        pytest.param("portrestricted", "mcje", "forward", "端口受限锥形", id="portrestricted-mcje-forward"),
        pytest.param("restricted", "mcbe", "shared", "受限锥形", id="restricted-mcbe-shared"),
    ],
)
def test_restricted_nat_measured_elsewhere_is_warned_not_refused(
    lab: NatLab, hook_so: Path, tmp_path: Path, kind: str, service_type: str, mode: str, expected: str
) -> None:
    """Where the filtering test can only run on another port (TCP services; a UDP port
    shared with the game server), a port forward set for this port alone is invisible,
    so the user gets a clear Chinese warning and the keeper carries on."""
    lab.set_nat(kind)
    port = 25565 if service_type == "mcje" else 19132
    start_server(lab, "inet", "stun", EXTRA_STUN_IP, 3478)
    if mode == "shared":
        start_server(lab, "home", service_type, "0.0.0.0", port, "x", preload=hook_so)
        cli_args = ["-l", f":{port}"]
    else:
        start_server(lab, "home", service_type, "127.0.0.1", port + 1, "x")
        cli_args = ["-l", f":{port}", "-r", f"127.0.0.1:{port + 1}"]
    config, _changes = write_config(tmp_path, service_type)
    run = start_cli(lab, config, *cli_args)
    try:
        run.wait_for(expected, 20)
        run.wait_for(MAPPING_RE, 20)
        assert stop_cli(lab, run)[0] == 0
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
    output = run.dump()
    assert "端口转发" in output and "WARNING" in output


@pytest.mark.parametrize("service_type", ["mcje", "mcbe"])
def test_symmetric_nat_with_one_stun_server_is_called_symmetric(lab: NatLab, tmp_path: Path, service_type: str) -> None:
    """Issue 12: one (RFC 5780) server on the symmetric lab. The keeper used to call it
    port restricted (UDP) or publish a new unreachable mapping every ~12 s (TCP); it now
    runs the mapping test through the server's OTHER-ADDRESS, as -t does."""
    lab.set_nat("symmetric")
    port = 25565 if service_type == "mcje" else 19132
    start_server(lab, "home", service_type, "127.0.0.1", port + 1, "x")
    config, changes = write_config(tmp_path, service_type, stun=[f"{STUN_IPS[0]}:3478"])
    run = start_cli(lab, config, "-l", f":{port}", "-r", f"127.0.0.1:{port + 1}")
    try:
        code = run.drain_until_exit(30)
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
    output = run.dump()
    assert code == 1, output
    assert "对称型 NAT" in output, output
    assert "端口受限" not in output, output
    assert len(MAPPING_RE.findall(output)) == 0, output
    assert not changes.exists()


IGNORING_ALT_IP = "203.0.113.13"  # the alternate address the CHANGE-REQUEST-ignoring server names


def test_server_ignoring_change_request_reads_as_unknown_not_full_cone(lab: NatLab, tmp_path: Path) -> None:
    """Issue 10: a STUN server that names an OTHER-ADDRESS but answers every CHANGE-REQUEST
    from its primary address, behind a restricted NAT. The keeper's own copy of the
    filtering test took that reply as proof of endpoint-independent filtering (and said
    nothing); the one probe module checks where each reply came from and says "unknown"."""
    lab.set_nat("restricted")
    lab.run("inet", ["ip", "addr", "add", f"{IGNORING_ALT_IP}/24", "dev", "i0"])
    try:
        start_server(lab, "inet", "stun-ignoring", EXTRA_STUN_IP, 3478, IGNORING_ALT_IP)
        start_server(lab, "home", "mcbe", "127.0.0.1", 19133, "x")
        config, _changes = write_config(tmp_path, "mcbe", stun=[f"{EXTRA_STUN_IP}:3478"])
        run = start_cli(lab, config, "-d", "-l", ":19132", "-r", "127.0.0.1:19133")
        try:
            run.wait_for("无法确认 NAT 的过滤行为", 20)
            run.wait_for(MAPPING_RE, 20)
            assert stop_cli(lab, run)[0] == 0
        finally:
            if run.proc.poll() is None:
                lab.stop(run.proc)
    finally:
        lab.run("inet", ["ip", "addr", "del", f"{IGNORING_ALT_IP}/24", "dev", "i0"], check=False)
    output = "\n".join(line.text for line in run.lines)
    assert "('independent'" not in output, output


def test_quick_restart_and_network_outage(lab: NatLab, tmp_path: Path) -> None:
    """A restart right after a stop binds and maps again (no TIME_WAIT trouble); a
    network outage of several seconds is ridden out with backoff and recovered from."""
    start_server(lab, "home", "mcje", "127.0.0.1", 25566, "restart")
    config, _changes = write_config(tmp_path, "mcje")
    data = json.loads(config.read_text())
    data["stun_tcp"] = data["stun_tcp"][1:]
    data["stun_udp"] = data["stun_udp"][1:]
    config.write_text(json.dumps(data))
    args = ("-l", ":25565", "-r", "127.0.0.1:25566")
    run = start_cli(lab, config, *args)
    try:
        run.wait_for(MAPPING_RE, 20)
        assert stop_cli(lab, run)[0] == 0
        run = start_cli(lab, config, *args)  # at once: same port, same keepalive peer
        _line, match = run.wait_for(MAPPING_RE, 10)
        outer = int(match.group(2))
        lab.run("router", ["ip", "link", "set", "r1", "down"])
        try:
            run.wait_for("暂时无法获取或保持映射", KEEPALIVE_INTERVAL + 10)
            time.sleep(6)  # the outage goes on: the keeper keeps backing off quietly
        finally:
            lab.run("router", ["ip", "link", "set", "r1", "up"])
        run.wait_for("网络已恢复", 30)
        assert sum("暂时无法获取或保持映射" in entry.text for entry in run.lines) == 1, run.dump()
        latest = [m for m in (MAPPING_RE.search(e.text) for e in run.lines) if m][-1]
        print(f"after the outage: {latest.group(0)} (before: {outer})")
        assert "restart" in query(lab, "mcje", latest.group(1), int(latest.group(2)))
        assert stop_cli(lab, run)[0] == 0
    finally:
        if run.proc.poll() is None:
            lab.stop(run.proc)
