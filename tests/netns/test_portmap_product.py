"""The product end to end through the double NAT: the forward is what makes the published mapping reachable.

The real CLI runs in ``host`` behind the home gateway (miniupnpd, drops unsolicited
inbound), behind the carrier's FULL CONE. With ``upnp: false`` the NAT check finds
the home gateway's filtering (NAT3) and refuses; with ``upnp: true`` naming the lab's
gateway the forward opens first, the check passes, the carrier's mapping is
published and a player in ``inet`` reaches the service. SIGTERM removes the forward
within 3 s. Only lab addresses are used.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import PLAYER_IPS, ROUTER_OUTSIDE_IP, STUN_IPS
from tests.lab.double import DOUBLE_TOOLS, GATEWAY_LAN_IP, DoubleNatLab, UpnpdOptions
from tests.support.ci import require_root_tools

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.portmap_lab]

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1", "NAT1_LANG": "zh"}
MAPPING_RE = re.compile(r"获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")
STUN = [f"{STUN_IPS[0]}:3478"]


@pytest.fixture(scope="module")
def lab() -> Iterator[DoubleNatLab]:
    require_root_tools(*DOUBLE_TOOLS)
    with DoubleNatLab().build("fullcone", keep_ports=True) as built:
        built.start_upnpd(UpnpdOptions())
        yield built


@pytest.fixture
def fresh(lab: DoubleNatLab) -> DoubleNatLab:
    lab.forget()
    return lab


class Output:
    """The process's merged output, read by a thread; ``wait_for`` is bounded."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._queue.put(raw.decode("utf-8", "replace").rstrip())
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first match, or ``None`` when the process ended first; fails after ``timeout``."""
        for line in self.lines:
            if match := pattern.search(line):
                return match
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if got is None:
                return None
            self.lines.append(got)
            if match := pattern.search(got):
                return match
        raise AssertionError(f"{pattern.pattern!r} not seen in {timeout} s:\n" + "\n".join(self.lines))

    def rest(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                return
            if got is None:
                return
            self.lines.append(got)


class Echo:
    """A UDP game server stand-in on the host's loopback: echoes every datagram."""

    def __init__(self, lab: DoubleNatLab) -> None:
        self.sock = lab.socket("host", socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.sock.sendto(data, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def player_reaches(lab: DoubleNatLab, ip: str, port: int, within: float) -> float | None:
    """Seconds until a player's datagram to ``ip:port`` comes back from the game server, or None."""
    player = lab.socket("inet", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        player.bind((PLAYER_IPS[0], 0))
        player.settimeout(0.2)
        started = time.monotonic()
        while time.monotonic() - started < within:  # bounded: one probe every 0.2 s
            token = secrets.token_bytes(8)
            player.sendto(token, (ip, port))
            try:
                data, _ = player.recvfrom(2048)
            except TimeoutError:
                continue
            if data == token:
                return time.monotonic() - started
        return None
    finally:
        player.close()


@pytest.fixture(scope="module")
def hook_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("make", "gcc")
    out = tmp_path_factory.mktemp("hook") / "hook_bind.so"
    subprocess.run(["make", "-s", "-C", str(REPO / "hook_bind"), f"OUT={out}"], check=True, timeout=120)
    return out


def start_server(
    lab: DoubleNatLab, ns: str, kind: str, host: str, port: int, preload: Path | None = None
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tests.support.e2e_servers", kind, host, str(port)]
    env = {**ENV, "LD_PRELOAD": str(preload)} if preload is not None else ENV
    proc = lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"READY", f"{kind} server did not start"
    return proc


def start_product(
    lab: DoubleNatLab, tmp_path: Path, port: int, remote: int | None, upnp: bool, service_type: str = "udp"
) -> Output:
    config = {
        "type": service_type, "dns": "no_dns", "local": f":{port}",
        "remote": f"127.0.0.1:{remote}" if remote is not None else None,
        "stun_udp": STUN, "stun_tcp": STUN, "keepalive_tcp": [f"{STUN_IPS[0]}:80"], "keepalive_interval": 2,
        "upnp": upnp, "upnp_gateway": GATEWAY_LAN_IP, "status": False, "reach_check": [],
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    argv = [sys.executable, "-m", "nat1_traversal", "-c", str(path)]
    proc = lab.popen("host", argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=str(REPO))
    return Output(proc)


def test_without_upnp_the_home_router_makes_it_nat3(fresh: DoubleNatLab, tmp_path: Path) -> None:
    lab = fresh
    echo = Echo(lab)
    try:
        port = 42000 + secrets.randbelow(1000)
        out = start_product(lab, tmp_path, port, echo.port, upnp=False)
        assert out.wait_for(MAPPING_RE, 15) is None, "no mapping may be published behind a filtering router"
        assert out.proc.wait(timeout=5) == 1
        text = "\n".join(out.lines)
        assert "NAT3" in text and "已通过" not in text
        assert player_reaches(lab, ROUTER_OUTSIDE_IP, port, within=1.0) is None
    finally:
        echo.close()


def test_with_upnp_the_published_mapping_is_reachable_and_the_forward_goes_on_sigterm(
    fresh: DoubleNatLab, tmp_path: Path
) -> None:
    lab = fresh
    echo = Echo(lab)
    try:
        port = 43000 + secrets.randbelow(1000)
        started = time.monotonic()
        out = start_product(lab, tmp_path, port, echo.port, upnp=True)
        assert out.wait_for(re.compile(f"已通过 PCP 在路由器 {GATEWAY_LAN_IP} 上打开 UDP 端口 {port}"), 15)
        match = out.wait_for(MAPPING_RE, 15)
        assert match is not None, "\n".join(out.lines)
        ip, mapped = match.group(1), int(match.group(2))
        assert ip == ROUTER_OUTSIDE_IP  # the carrier's mapping, never the home gateway's idea of it
        took = player_reaches(lab, ip, mapped, within=10.0)
        assert took is not None, "a player reaches the published mapping"
        first_reachable = time.monotonic() - started
        print(f"start to first reachable mapping with UPnP: {first_reachable:.2f} s")
        assert f"dport {port} dnat" in lab.forwards()
        out.proc.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert out.proc.wait(timeout=3) == 0
        gone = time.monotonic() - stopping
        assert f"dport {port}" not in lab.forwards()
        assert gone < 3.0
        out.rest(1.0)
        assert any(f"已删除路由器 {GATEWAY_LAN_IP} 上的 UDP 端口 {port} 转发（PCP）" in line for line in out.lines)
    finally:
        echo.close()


@pytest.mark.parametrize("upnp", [True, False])
def test_tcp_forward_mode_reachable_only_with_upnp(fresh: DoubleNatLab, tmp_path: Path, upnp: bool) -> None:
    """mcje in forward mode: a player's status query reaches the Java server through both NATs, with the
    forward; without it the mapping is published (TCP filtering cannot be measured: a warning) but dead.
    With the forward held, the filtering check from another port (which cannot see it) is an INFO line
    saying so, never the NAT3 warning."""
    lab = fresh
    http = start_server(lab, "inet", "http", STUN_IPS[0], 80)
    remote = 25000 + secrets.randbelow(1000)
    game = start_server(lab, "host", "mcje", "127.0.0.1", remote)
    try:
        port = 45000 + secrets.randbelow(1000)
        started = time.monotonic()
        out = start_product(lab, tmp_path, port, remote, upnp=upnp, service_type="mcje")
        if upnp:
            assert out.wait_for(re.compile(f"已通过 PCP 在路由器 {GATEWAY_LAN_IP} 上打开 TCP 端口 {port}"), 15)
        match = out.wait_for(MAPPING_RE, 20)
        assert match is not None, "\n".join(out.lines)
        address = f"{match.group(1)}:{match.group(2)}"
        assert match.group(1) == ROUTER_OUTSIDE_IP
        query = lab.run("inet", [sys.executable, "-m", "nat1_traversal", "-qj", address], env=ENV, cwd=str(REPO),
                        timeout=30, check=False)  # fmt: skip
        warnings = [line for line in out.lines if line.startswith("[ WARNING]")]
        if upnp:
            assert not any("NAT3" in line for line in warnings), "\n".join(out.lines)
            assert any(line.startswith("[    INFO] 路由器上本服务端口的转发已由 PCP 打开") and "NAT3" in line
                       for line in out.lines), "\n".join(out.lines)
        else:
            assert any("NAT3" in line and "端口转发" in line for line in warnings), "\n".join(out.lines)
        if not upnp:
            assert query.stdout.strip() == "MCJE: 服务器离线", query.stdout
            assert not any("已通过" in line for line in out.lines)
            out.proc.send_signal(signal.SIGTERM)
            assert out.proc.wait(timeout=3) == 0
            return
        assert query.stdout.startswith("MCJE: {"), (query.stdout, query.stderr, "\n".join(out.lines))
        print(f"mcje: start to first reachable mapping with UPnP: {time.monotonic() - started:.2f} s")
        out.proc.send_signal(signal.SIGTERM)
        assert out.proc.wait(timeout=3) == 0
        assert f"dport {port}" not in lab.forwards()
    finally:
        lab.stop(game)
        lab.stop(http)


def test_shared_port_mcje_reachable_with_upnp(fresh: DoubleNatLab, tmp_path: Path, hook_so: Path) -> None:
    """Shared-port mode: the Java server itself listens on the port (hook_bind), we only map and forward it."""
    lab = fresh
    http = start_server(lab, "inet", "http", STUN_IPS[0], 80)
    port = 47000 + secrets.randbelow(1000)
    game = start_server(lab, "host", "mcje", "0.0.0.0", port, preload=hook_so)
    try:
        out = start_product(lab, tmp_path, port, None, upnp=True, service_type="mcje")
        assert out.wait_for(re.compile(f"已通过 PCP 在路由器 {GATEWAY_LAN_IP} 上打开 TCP 端口 {port}"), 15)
        match = out.wait_for(MAPPING_RE, 20)
        assert match is not None, "\n".join(out.lines)
        query = lab.run("inet", [sys.executable, "-m", "nat1_traversal", "-qj", f"{match.group(1)}:{match.group(2)}"],
                        env=ENV, cwd=str(REPO), timeout=30, check=False)  # fmt: skip
        assert query.stdout.startswith("MCJE: {"), (query.stdout, "\n".join(out.lines))
        out.proc.send_signal(signal.SIGTERM)
        assert out.proc.wait(timeout=3) == 0
        assert f"dport {port}" not in lab.forwards()
    finally:
        lab.stop(game)
        lab.stop(http)


def test_nat_type_test_opens_the_test_port_first(fresh: DoubleNatLab, tmp_path: Path) -> None:
    lab = fresh
    path = tmp_path / "config.json"
    results: dict[bool, str] = {}
    for upnp in (False, True):
        lab.forget()
        port = 44000 + secrets.randbelow(1000)
        config = {"stun_udp": STUN, "stun_tcp": STUN, "upnp": upnp, "upnp_gateway": GATEWAY_LAN_IP,
                  "status": False, "reach_check": []}  # fmt: skip
        path.write_text(json.dumps(config), encoding="utf-8")
        argv = [sys.executable, "-m", "nat1_traversal", "-t", "-l", f":{port}", "-c", str(path)]
        done = lab.run("host", argv, env=ENV, cwd=str(REPO), timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        results[upnp] = done.stdout
        assert f"dport {port}" not in lab.forwards(), "the test port's forward is removed afterwards"
    assert "UDP: PORT RESTRICTED CONE (NAT3)" in results[False], results[False]
    assert "UDP: FULL CONE (NAT1)" in results[True], results[True]


def test_sigterm_while_a_silent_router_is_asked_stops_within_a_second(fresh: DoubleNatLab, tmp_path: Path) -> None:
    """A home router that answers nothing (not even ICMP) costs seconds at start; SIGTERM still wins."""
    lab = fresh
    lab.run("home", ["nft", "add", "table", "inet", "nat1silent"])
    lab.run("home", ["nft", "add", "chain", "inet", "nat1silent", "input",
                     "{ type filter hook input priority -10; policy accept; }"])  # fmt: skip
    lab.run("home", ["nft", "add", "rule", "inet", "nat1silent", "input", "iifname", "g0", "drop"])
    echo = Echo(lab)
    try:
        out = start_product(lab, tmp_path, 46000 + secrets.randbelow(1000), echo.port, upnp=True)
        assert out.wait_for(re.compile("UDP 转发已启动"), 15)
        out.proc.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert out.proc.wait(timeout=3) == 0
        assert time.monotonic() - stopping < 1.0
    finally:
        echo.close()
        lab.run("home", ["nft", "delete", "table", "inet", "nat1silent"])
