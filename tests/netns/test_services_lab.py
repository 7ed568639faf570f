"""SPEC section 11 in the NAT lab: one process in ``home`` maps and keeps three services.

Java in shared-port mode on a real JVM (hook_bind.so preloaded), Bedrock in forward
mode, a website in forward mode; a player in ``inet`` reaches all three at the logged
addresses; when the router forgets its TCP mappings only, the TCP services remap and
Bedrock keeps its address (the status API says so); after it forgot every mapping, all
three remap and are reached again; ``--status``, ``/metrics`` and the
page show the same mappings; SIGTERM ends it within a second. Only lab addresses are used.
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
from pathlib import Path
from typing import Any

import pytest

from tests.lab import HOME_IP, ROUTER_OUTSIDE_IP, STUN_IPS, NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (pytest fixture)
from tests.lab.rules import TABLE
from tests.support.ci import require_root_tools

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1", "NAT1_LANG": "zh"}
MAPPED = re.compile(r"\[(\w+)\] 获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")
INTERVAL = 2

pytestmark = [pytest.mark.netns, pytest.mark.slow]


class Output:
    """The product's merged output, read by a thread; ``mappings`` waits for new mapping lines."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                self._queue.put(raw.decode("utf-8", "replace").rstrip())
            self._queue.put(None)

        threading.Thread(target=read, daemon=True, name="services-lab-reader").start()

    def mappings(self, names: set[str], timeout: float) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        deadline = time.monotonic() + timeout
        while set(found) != names:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "\n".join(self.lines[-40:])
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "the process ended:\n" + "\n".join(self.lines[-40:])
            self.lines.append(line)
            match = MAPPED.search(line)
            if match:
                found[match.group(1)] = (match.group(2), int(match.group(3)))
        return found


@pytest.fixture(scope="module")
def hook_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("make", "gcc")
    out = tmp_path_factory.mktemp("hook") / "hook_bind.so"
    subprocess.run(["make", "-s", "-C", str(REPO / "hook_bind"), f"OUT={out}"], check=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def java_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("java", "javac")
    out = tmp_path_factory.mktemp("java")
    subprocess.run(["javac", "-d", str(out), str(REPO / "tests" / "java_keeper" / "McStatus.java")],
                   check=True, timeout=120)
    return out


@pytest.fixture
def lab(nat_lab: NatLab) -> Iterator[NatLab]:  # noqa: F811
    start(nat_lab, "inet", [sys.executable, "-m", "tests.support.e2e_servers", "http", STUN_IPS[0], "80"])
    yield nat_lab


def start(lab: NatLab, ns: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                              env=env or ENV, cwd=str(REPO))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"READY", argv
    return proc


PLAYER = r"""
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
with socket.create_connection((ip, port), timeout=5) as s:
    s.sendall(b"HEAD / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
    print(s.recv(200).split(b"\r\n")[0].decode())
"""


def drop_tcp_mappings(lab: NatLab) -> None:
    """The router forgets its TCP mappings (and their connections); UDP stays as it is."""
    script = "".join(f"flush {'set' if kind == 'contacted' else 'map'} ip {TABLE} {kind}_tcp\n"
                     for kind in ("eim", "inbound", "contacted"))
    lab.run("router", ["nft", "-f", "-"], input=script)
    lab.run("router", ["conntrack", "-D", "-p", "tcp"], check=False)


def fetch(lab: NatLab, target: str) -> str:
    """GET ``target`` from the status server in ``home`` (loopback of that namespace)."""
    url = f"http://127.0.0.1:8730{target}"
    code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    return lab.run("home", [sys.executable, "-c", code], env=ENV).stdout


def reach(lab: NatLab, name: str, ip: str, port: int) -> str:
    """What a player in ``inet`` gets from the service at ``ip:port``."""
    if name == "site":
        argv = [sys.executable, "-c", PLAYER, ip, str(port)]
    else:
        argv = [sys.executable, "-m", "nat1_traversal", "-qj" if name == "java" else "-qb", f"{ip}:{port}"]
    return lab.run("inet", argv, env=ENV, cwd=str(REPO)).stdout


def check_all(lab: NatLab, mapped: dict[str, tuple[str, int]]) -> None:
    for name, (ip, port) in mapped.items():
        assert ip == ROUTER_OUTSIDE_IP
        text = reach(lab, name, ip, port)
        expected = {"java": "lab jvm java", "bedrock": "lab bedrock", "site": "HTTP/1.1 200 OK"}[name]
        assert expected in text, (name, text)


def test_one_process_three_services_players_reach_all(
    lab: NatLab, hook_so: Path, java_class: Path, tmp_path: Path
) -> None:
    java = lab.popen("home", ["java", "-Xshare:auto", "-Xmx64m", "-cp", str(java_class), "McStatus", "0.0.0.0",
                              "25565", "lab jvm java"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**ENV, "LD_PRELOAD": str(hook_so)})
    assert java.stdout is not None and java.stdout.readline().strip() == b"READY"
    start(lab, "home", [sys.executable, "-m", "tests.support.e2e_servers", "mcbe", "127.0.0.1", "19133", "lab bedrock"])
    start(lab, "home", [sys.executable, "-m", "tests.support.e2e_servers", "http", "127.0.0.1", "8444"])
    stun = [f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"]
    config: dict[str, Any] = {
        "dns": "no_dns", "stun_tcp": stun, "stun_udp": stun, "keepalive_tcp": [f"{STUN_IPS[0]}:80"],
        "keepalive_interval": INTERVAL, "status": "127.0.0.1:8730", "reach_check": [], "upnp": False,
        "services": [
            {"name": "java", "type": "mcje", "sub_domain": "mc", "local": ":25565"},
            {"name": "bedrock", "type": "mcbe", "sub_domain": "mc", "local": ":19132", "remote": "127.0.0.1:19133"},
            {"name": "site", "type": "web", "sub_domain": "www", "local": ":8443", "remote": "127.0.0.1:8444"},
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    proc: subprocess.Popen[bytes] = lab.popen(
        "home", [sys.executable, "-m", "nat1_traversal", "-c", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=str(tmp_path))  # fmt: skip
    output = Output(proc)
    names = {"java", "bedrock", "site"}
    try:
        first = output.mappings(names, 30)
        check_all(lab, first)
        status = lab.run("home", [sys.executable, "-m", "nat1_traversal", "--status", "-c", str(path)],
                         env=ENV, cwd=str(tmp_path)).stdout.splitlines()
        assert [line.split()[0] for line in status] == ["java", "bedrock", "site"]
        for line in status:
            ip, port = first[line.split()[0]]
            assert f"{ip}:{port}" in line, status
        # /metrics and the page show the same mappings
        metrics, page = (fetch(lab, target) for target in ("/metrics", "/"))
        for name, (ip, port) in first.items():
            assert f'nat1_mapping_port{{service="{name}"}} {port}.0' in metrics, metrics
            assert f"{ip}:{port}" in page

        # the NAT forgets its TCP mappings only: the TCP services remap, Bedrock keeps its address
        drop_tcp_mappings(lab)
        second = {**first, **output.mappings({"java", "site"}, INTERVAL + 15)}
        assert second["java"] != first["java"] and second["site"] != first["site"]
        check_all(lab, second)
        services = {s["name"]: s for s in json.loads(fetch(lab, "/api/status"))["services"]}
        assert {name: s["remaps"] for name, s in services.items()} == {"java": 1, "bedrock": 0, "site": 1}
        assert services["bedrock"]["mapping"] == "{}:{}".format(*first["bedrock"])

        # the NAT forgets everything: every service remaps, and the players reach the new addresses
        lab.drop_mapping()
        third = output.mappings(names, INTERVAL + 15)
        assert all(third[name] != second[name] for name in names)
        check_all(lab, third)
        assert sum(bool(MAPPED.search(line)) and "[bedrock]" in line for line in output.lines) == 2
        assert not any(HOME_IP in line and "ERROR" in line for line in output.lines)

        began = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - began < 1.0
    finally:
        lab.stop(proc)
