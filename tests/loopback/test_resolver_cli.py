"""``resolver`` through the real CLI (SPEC section 15): ``-q`` finds a Java server by the SRV
record that a test DoH server on 127.0.0.1 serves, and the daemon finds its STUN and keepalive
servers by names that only the DoH server knows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.support import mcfakes
from tests.support.app_kit import Fakes
from tests.support.doh import Records, doh_responder
from tests.support.receivers import receiver
from tests.support.util import free_port

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1"}
    env.pop("NAT1_LANG", None)
    return env


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/resolve", "/dns-query"])
async def test_query_finds_the_srv_record_served_over_doh(tmp_path: Path, path: str) -> None:
    status = {"version": {"name": "1.21.4", "protocol": 769}, "players": {"max": 20, "online": 3},
              "description": "DoH 找到的服务器"}
    async with mcfakes.JavaFake(mcfakes.modern(status)) as java:
        records: Records = {
            ("_minecraft._tcp.mc.example.test.", "SRV"): [f"10 0 {java.port} java.example.test."],
            ("mc.example.test.", "A"): ["198.51.100.1"],  # not where the server is: the SRV record must win
            ("java.example.test.", "A"): ["127.0.0.1"],
        }
        with receiver(doh_responder(records)) as doh:
            config = tmp_path / "config.json"
            config.write_text(json.dumps({"resolver": f"http://127.0.0.1:{doh.port}{path}"}), encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nat1_traversal", "-q", "mc.example.test", "-c", str(config),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(), cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
    stdout = out.decode()
    assert proc.returncode == 0, err.decode()
    line = next(x for x in stdout.splitlines() if x.startswith("MCJE: "))
    assert json.loads(line[len("MCJE: "):])["description"] == ["DoH 找到的服务器"]
    assert "MCBE: 服务器离线" in stdout
    assert java.handshakes and java.handshakes[0].port == java.port
    asked = " ".join(r.path for r in doh.requests)
    if path == "/resolve":
        assert "_minecraft._tcp.mc.example.test" in asked and "java.example.test" in asked


@pytest.mark.asyncio
async def test_daemon_finds_stun_and_keepalive_servers_over_doh(tmp_path: Path, fakes: Fakes) -> None:
    records: Records = {("stun.example.test.", "A"): ["127.0.0.1"], ("keep.example.test.", "A"): ["127.0.0.1"]}
    echo = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    with receiver(doh_responder(records)) as doh:
        cfg = {
            "type": "tcp", "status": False, "upnp": False, "keepalive_interval": 1,
            "resolver": f"http://127.0.0.1:{doh.port}/resolve",
            "stun_tcp": [f"stun.example.test:{s.addr[1]}" for s in fakes.stun_tcp],
            "stun_udp": [f"stun.example.test:{s.addr[1]}" for s in fakes.stun_udp],
            "keepalive_tcp": [f"keep.example.test:{h.addr[1]}" for h in fakes.http],
        }
        config = tmp_path / "config.json"
        config.write_text(json.dumps(cfg), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nat1_traversal", "-c", str(config),
            "-l", f"127.0.0.1:{free_port()}", "-r", f"127.0.0.1:{echo_port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=_env(), cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL)
        stdout = proc.stdout
        assert stdout is not None
        lines: list[str] = []
        try:
            async def mapped() -> None:
                while True:
                    raw = await stdout.readline()
                    if not raw:
                        raise AssertionError(f"EOF; got {lines}")
                    lines.append(raw.decode("utf-8", "replace").rstrip())
                    if "获取到映射地址" in lines[-1]:
                        return

            await asyncio.wait_for(mapped(), 20)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 5)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            echo.close()
    assert proc.returncode == 0, lines
    asked = " ".join(r.path for r in doh.requests)
    assert "stun.example.test" in asked and "keep.example.test" in asked
    assert not [line for line in lines if "改用系统解析" in line], lines


def test_query_with_a_broken_config_file_still_runs(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "config.json").write_text('{"resolver": "ftp://nope"}', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nat1_traversal", "-qj", "127.0.0.1:9"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "MCJE: 服务器离线" in done.stdout
    assert "改用系统解析" in done.stderr and "resolver" in done.stderr
