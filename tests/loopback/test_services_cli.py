"""SPEC section 11 through the real CLI: config errors at once, -l/-r refused, and one process
with three services (prefixed log lines, --status, the sixth on_change argument, SIGTERM < 1 s)."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli_run import LOOPBACK_ONLY, cli_argv, cli_env, run_cli, snapshot, write_config
from tests.support.services_kit import Servers, servers
from tests.support.util import free_port

__all__ = ["servers"]  # the fixture


def test_every_problem_of_every_service_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, ttl=0, services=[
        {"name": "java", "type": "mcje", "local": ":25565", "status": "127.0.0.1:1"},
        {"name": "bad name", "type": "mcbe", "local": ":1913x"},
        {"type": "tcp", "local": ":25565"},
        {"name": "java", "type": "udp", "local": ":9000", "proxy_protocol": "v1"},
    ])
    before = snapshot(tmp_path)
    done = run_cli("-c", str(path), cwd=tmp_path)
    assert done.returncode == 2
    lines = [line.strip() for line in done.stderr.splitlines()]
    assert lines[0] == f"[   ERROR] 配置文件 {path} 有 7 处错误："
    assert lines[1:] == [
        "- services[0].status：status 只能写在最外层（对所有服务生效），不能写在 services 里",
        "- ttl：0 无效，必须是 1 到 86400 之间的整数，或 null",
        "- services[1].local：地址 \":1913x\" 中的端口无效（应为 1-65535）",
        "- services[1].name：\"bad name\" 无效，服务名只能由 1 到 32 个英文字母、数字、_ 或 - 组成",
        "- services[3]：proxy_protocol：仅适用于 TCP 类型，type 为 udp 时请设为 null",
        "- services[2].local：TCP 端口 25565 已被 services[0]（java）使用，两个服务不能用同一协议的同一本地端口",
        "- services[3].name：服务名 \"java\" 与 services[0] 重复，每个服务的 name 必须不同",
    ]
    assert snapshot(tmp_path) == before


def test_a_service_without_local_is_named(tmp_path: Path) -> None:
    path = write_config(tmp_path, services=[{"name": "a", "local": ":25565"}, {"name": "b", "type": "web"}])
    done = run_cli("-c", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert "services[1]：未设置本地地址" in done.stderr


@pytest.mark.parametrize("option", [["-l", ":25570"], ["-r", ":25571"]])
def test_local_or_remote_options_with_two_services_are_a_usage_error(tmp_path: Path, option: list[str]) -> None:
    path = write_config(tmp_path, services=[{"local": ":25565"},
                                            {"type": "mcbe", "local": ":19132", "remote": ":19133"}])
    done = run_cli("-c", str(path), *option, cwd=tmp_path)
    assert done.returncode == 2
    assert "配置文件中有 2 个服务，-l/-r 只能用于单个服务" in done.stderr


def hook(folder: Path) -> str:
    """on_change: writes its arguments to a file named after the sixth one (or "five")."""
    script = ("import sys, pathlib; a = sys.argv[1:]; "
              f"pathlib.Path({str(folder)!r}, a[5] if len(a) > 5 else 'five').write_text(' '.join(a))")
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"


async def read_until(stream: asyncio.StreamReader, lines: list[str], done: int, needle: str) -> None:
    """Read stderr lines until ``done`` of them hold ``needle`` (bounded)."""
    for _ in range(200):
        raw = await asyncio.wait_for(stream.readline(), 15)
        assert raw, f"the process ended: {lines}"
        lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        if sum(needle in line for line in lines) >= done:
            return
    raise AssertionError(lines)


@pytest.mark.asyncio
async def test_one_process_three_services(tmp_path: Path, servers: Servers) -> None:
    status_port = free_port()
    keys = {**LOOPBACK_ONLY, **servers.keys(), "status": f"127.0.0.1:{status_port}", "on_change": hook(tmp_path)}
    ports = {"java": free_port(), "bedrock": free_port(socket.SOCK_DGRAM), "site": free_port()}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**keys, "services": [
        {"name": "java", "type": "tcp", "local": f"127.0.0.1:{ports['java']}", "remote": f"127.0.0.1:{free_port()}"},
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{ports['bedrock']}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
        {"name": "site", "type": "web", "local": f"127.0.0.1:{ports['site']}", "remote": f"127.0.0.1:{free_port()}"},
    ]}), encoding="utf-8")
    env = cli_env({"NAT1_NO_UVLOOP": "1"})
    proc = await asyncio.create_subprocess_exec(*cli_argv("-c", str(path)), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                                                env=env, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        await read_until(proc.stderr, lines, 3, "获取到映射地址")
        mapped = [line for line in lines if "获取到映射地址" in line]
        assert {line.split("] ", 1)[1].split(" ")[0] for line in mapped} == {"[java]", "[bedrock]", "[site]"}
        assert all(line.startswith("[    INFO] [") for line in mapped)
        assert any(line.startswith("[    INFO] 状态页已启动") for line in lines)  # not a service's line

        asked = await asyncio.create_subprocess_exec(*cli_argv("--status", "-c", str(path)),
                                                     stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
        out, _ = await asyncio.wait_for(asked.communicate(), 30)
        assert asked.returncode == 0
        status_lines = out.decode("utf-8").splitlines()
        assert [line.split()[0] for line in status_lines] == ["java", "bedrock", "site"], status_lines

        # on_change: the service name is the sixth argument
        for _ in range(500):
            if all((tmp_path / name).exists() for name in ports):
                break
            await asyncio.sleep(0.01)
        words = (tmp_path / "bedrock").read_text().split()
        assert words[0] == "udp" and words[2] == str(ports["bedrock"]) and words[5] == "bedrock"
        assert (tmp_path / "java").read_text().split()[5] == "java"

        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 3) == 0
        assert time.monotonic() - began < 1.0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.asyncio
async def test_a_file_without_services_logs_as_before_and_names_its_service_to_on_change(
    tmp_path: Path, servers: Servers
) -> None:
    port = free_port()
    path = write_config(tmp_path, **servers.keys(), type="tcp", local=f"127.0.0.1:{port}",
                        remote=f"127.0.0.1:{free_port()}", on_change=hook(tmp_path))
    proc = await asyncio.create_subprocess_exec(*cli_argv("-c", str(path)), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                                                env=cli_env({"NAT1_NO_UVLOOP": "1"}), cwd=tmp_path)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        await read_until(proc.stderr, lines, 1, "获取到映射地址")
        assert next(line for line in lines if "获取到映射地址" in line).startswith("[    INFO] 获取到映射地址")
        assert not any("] [" in line for line in lines)
        name = f"tcp-{port}"
        for _ in range(500):
            if (tmp_path / name).exists():
                break
            await asyncio.sleep(0.01)
        assert (tmp_path / name).read_text().split()[5] == name
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 3) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
