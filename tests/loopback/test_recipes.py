"""The on_change recipes of README_extend (contrib/on_change/) against fakes of their targets:
qBittorrent's Web API, Transmission's RPC and a OneBot (QQ group bot) HTTP API, all on 127.0.0.1.
The qBittorrent recipe also runs as the daemon's real on_change."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.app_kit import Fakes
from tests.support.receivers import receiver
from tests.support.recipe_fakes import OneBotFake, QbittorrentFake, TransmissionFake
from tests.support.util import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "contrib" / "on_change"
MAPPING_ARGS = ["tcp", "192.168.1.2", "25565", "203.0.113.7", "40123", "java"]


def run_recipe(name: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RECIPES / name), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)


def test_qbittorrent_listen_port() -> None:
    fake = QbittorrentFake()
    with receiver(fake.respond) as rx:
        fake.base = f"http://127.0.0.1:{rx.port}"
        env = {"QBT_URL": fake.base, "QBT_USER": fake.user, "QBT_PASSWORD": fake.password}
        done = run_recipe("qbittorrent.py", MAPPING_ARGS, env)
        assert done.returncode == 0, done.stderr
        assert fake.preferences["listen_port"] == 40123 and fake.preferences["random_port"] is False
        wrong = run_recipe("qbittorrent.py", MAPPING_ARGS, {**env, "QBT_PASSWORD": "nope"})
        assert wrong.returncode == 1 and "refused" in wrong.stderr
        assert run_recipe("qbittorrent.py", ["udp", *MAPPING_ARGS[1:]], env).returncode == 0
    assert [r.path for r in rx.requests] == ["/api/v2/auth/login", "/api/v2/app/setPreferences",
                                             "/api/v2/auth/login"]  # a UDP mapping changes nothing


def test_transmission_peer_port() -> None:
    fake = TransmissionFake()
    with receiver(fake.respond) as rx:
        env = {"TR_URL": f"http://127.0.0.1:{rx.port}/transmission/rpc", "TR_USER": fake.user,
               "TR_PASSWORD": fake.password}
        done = run_recipe("transmission.py", MAPPING_ARGS, env)
        assert done.returncode == 0, done.stderr
        assert fake.settings["peer-port"] == 40123
        wrong = run_recipe("transmission.py", MAPPING_ARGS, {**env, "TR_PASSWORD": "nope"})
        assert wrong.returncode == 1
    assert len(rx.requests) == 3  # 409 handshake + the call, then the refused one


def test_onebot_group_message_for_bedrock_players() -> None:
    fake = OneBotFake()
    with receiver(fake.respond) as rx:
        env = {"ONEBOT_URL": f"http://127.0.0.1:{rx.port}", "ONEBOT_TOKEN": fake.token, "ONEBOT_GROUP": "123456"}
        done = run_recipe("onebot_group.py", ["udp", "192.168.1.2", "19132", "203.0.113.7", "40124", "bedrock"], env)
        assert done.returncode == 0, done.stderr
        five = run_recipe("onebot_group.py", ["udp", "192.168.1.2", "19132", "203.0.113.7", "40125"],
                          {**env, "ONEBOT_TEXT": "快来玩 {address}"})
        assert five.returncode == 0, five.stderr  # scripts that get five arguments keep working
        refused = run_recipe("onebot_group.py", MAPPING_ARGS, {**env, "ONEBOT_TOKEN": "wrong"})
        assert refused.returncode == 1
    assert fake.messages == [(123456, "基岩版服务器 bedrock 新地址：203.0.113.7  端口：40124"),
                             (123456, "快来玩 203.0.113.7:40125")]


@pytest.mark.asyncio
async def test_the_daemon_runs_the_qbittorrent_recipe_on_a_new_mapping(tmp_path: Path, fakes: Fakes) -> None:
    fake = QbittorrentFake()
    echo = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    with receiver(fake.respond) as rx:
        fake.base = f"http://127.0.0.1:{rx.port}"
        cfg = {
            "type": "tcp", "status": False, "upnp": False, "reach_check": [], "keepalive_interval": 1,
            "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
            "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
            "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
            "on_change": f"{sys.executable} {RECIPES / 'qbittorrent.py'}",
        }
        config = tmp_path / "config.json"
        config.write_text(json.dumps(cfg), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1", "QBT_URL": fake.base,
               "QBT_USER": fake.user, "QBT_PASSWORD": fake.password}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nat1_traversal", "-c", str(config),
            "-l", f"127.0.0.1:{free_port()}", "-r", f"127.0.0.1:{echo_port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL)
        try:
            await wait_until(lambda: fake.preferences["listen_port"] == 61001, 20)  # the fake STUN's mapped port
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 5)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            echo.close()
    assert proc.returncode == 0, output.decode()
    assert [r.path for r in rx.requests] == ["/api/v2/auth/login", "/api/v2/app/setPreferences"]
