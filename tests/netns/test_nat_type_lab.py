"""``-t`` end to end in the NAT lab: the command line inside the home namespace, coturn outside."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from nat1_traversal.config import Config
from nat1_traversal.model import HostPort
from nat1_traversal.nat_type import run_nat_type_test
from tests.lab import PLAYER_IPS, ROUTER_OUTSIDE_IP, NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (fixture)

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]
STUN = "203.0.113.10:3478"


def run_test(
    lab: NatLab, *extra: str, stun: str = STUN
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``nat1_traversal -t`` (the real command line) with a config naming the lab's STUN server."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NAT1_LANG", None)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"stun_udp": [stun], "stun_tcp": [stun], "reach_check": [], "upnp": False}))
        argv = [sys.executable, "-m", "nat1_traversal", "-t", "-c", str(config), *extra]
        started = time.monotonic()
        done = lab.run("home", argv, check=False, timeout=30, env=env, cwd=str(ROOT))
        return done, time.monotonic() - started


EXPECTED = {
    "open": ("UDP: OPEN INTERNET (NAT0)", "TCP: OPEN INTERNET (NAT0)"),
    "fullcone": ("UDP: FULL CONE (NAT1)", "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)"),
    "restricted": ("UDP: RESTRICTED CONE (NAT2)", "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)"),
    "portrestricted": ("UDP: PORT RESTRICTED CONE (NAT3)", "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)"),
    "symmetric": ("UDP: SYMMETRIC (NAT4)", "TCP: SYMMETRIC (NAT4)"),
}
TCP_MAPPING = {
    "open": "与端点无关的映射",
    "fullcone": "与端点无关的映射",
    "restricted": "与端点无关的映射",
    "portrestricted": "与端点无关的映射",
    "symmetric": "与地址和端口相关的映射",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_nat_type_of_each_kind(nat_lab: NatLab, kind: str) -> None:  # noqa: F811
    nat_lab.set_nat(kind)
    done, elapsed = run_test(nat_lab)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    udp_line, tcp_line = EXPECTED[kind]
    assert udp_line in lines and tcp_line in lines
    result_at = lines.index(tcp_line)
    assert lines[result_at + 1] == udp_line  # TCP line, then UDP line
    assert f"TCP 映射行为：{TCP_MAPPING[kind]}" in "\n".join(lines[:result_at])
    preserved = "是" if kind == "open" else "否"
    assert f"UDP 端口保持：{preserved}" in lines
    assert len(lines) > result_at + 2  # advice follows
    print(f"-t in {kind}: {elapsed:.2f} s")
    assert elapsed < 4.0


def test_full_cone_wall_time(nat_lab: NatLab) -> None:  # noqa: F811
    times = []
    for _ in range(3):
        done, elapsed = run_test(nat_lab)
        assert "UDP: FULL CONE (NAT1)" in done.stdout
        times.append(elapsed)
    print(f"-t wall time in FULL CONE (process start included): {min(times):.2f}-{max(times):.2f} s")
    assert max(times) <= 3.0


def test_no_server_reachable_exits_1(nat_lab: NatLab) -> None:  # noqa: F811
    done, _ = run_test(nat_lab, stun="203.0.113.99:3478")
    assert done.returncode == 1
    assert "TCP: UNKNOWN (无法连接 STUN 服务器)" in done.stdout.splitlines()
    assert "UDP: UNKNOWN (无法连接 STUN 服务器)" in done.stdout.splitlines()


def test_in_process_inside_home(nat_lab: NatLab, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    nat_lab.set_nat("restricted")
    stun = (HostPort("203.0.113.10", 3478),)
    config = Config(stun_udp=stun, stun_tcp=stun, reach_check=())
    code = nat_lab.call_in("home", lambda: asyncio.run(run_nat_type_test(config, None)))
    assert code == 0
    assert "UDP: RESTRICTED CONE (NAT2)" in capsys.readouterr().out.splitlines()


HOLDER = r"""
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
udp.bind(("0.0.0.0", 25565))
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
tcp.bind(("0.0.0.0", 25565))
tcp.listen()
print("ready", flush=True)
udp.settimeout(20)
while True:
    data, peer = udp.recvfrom(2048)
    print(data.hex(), flush=True)
"""


def test_local_port_shared_with_a_service(nat_lab: NatLab) -> None:  # noqa: F811
    """``-l :25565`` while a service holds 25565 with SO_REUSEPORT: the test runs from that
    port, the service gets none of the STUN replies, and the full cone mapping it reports
    really leads a player to the service."""
    holder = nat_lab.popen("home", [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    done, _ = run_test(nat_lab, "-l", ":25565")
    assert done.returncode == 0, done.stderr
    assert "UDP: FULL CONE (NAT1)" in done.stdout.splitlines()
    assert "TCP 映射行为：与端点无关的映射（Endpoint-Independent Mapping）" in done.stdout.splitlines()
    found = re.search(r"UDP 映射地址：203\.0\.113\.1:(\d+)", done.stdout)
    assert found is not None
    mapped_port = int(found.group(1))
    rules = nat_lab.run("router", ["nft", "list", "map", "ip", "nat1lab", "eim_udp"]).stdout
    assert "10.0.0.2 . 25565" in rules and f"203.0.113.1 . {mapped_port}" in rules
    token = secrets.token_bytes(8)
    player = nat_lab.socket("inet")
    try:
        player.bind((PLAYER_IPS[1], 0))
        player.sendto(token, (ROUTER_OUTSIDE_IP, mapped_port))
    finally:
        player.close()
    assert holder.stdout.readline().strip() == token.hex()  # the first datagram it ever got: no STUN
    nat_lab.stop(holder)
