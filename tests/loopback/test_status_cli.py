"""``--status`` against a real status server on 127.0.0.1 (and once through a real process)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
from pathlib import Path

import pytest

from nat1_traversal.cli import main
from nat1_traversal.model import Endpoint
from nat1_traversal.status.client import connect_address
from tests.support.status_kit import BEDROCK_MAPPING, JAVA_MAPPING, running_server, two_services
from tests.support.util import free_port

TOKEN = "cli-token-0123456789abcdef"


def write_config(tmp_path: Path, **keys: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"upnp": False, "reach_check": [], **keys}), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.asyncio
async def test_one_line_per_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running_server(two_services()) as server:
        path = write_config(tmp_path, status=f"127.0.0.1:{server.port}")
        code = await asyncio.to_thread(main, ["--status", "-c", str(path)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    java, bedrock = lines
    for word in ("java", "已映射", JAVA_MAPPING, "mc.example.com", "公网可达"):
        assert word in java, word
    for word in ("bedrock", BEDROCK_MAPPING, "可达性未知"):
        assert word in bedrock, word


@pytest.mark.asyncio
async def test_token_sent_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running_server(two_services(), TOKEN) as server:
        good = write_config(tmp_path, status=f"127.0.0.1:{server.port}", status_token=TOKEN)
        assert await asyncio.to_thread(main, ["--status", "-c", str(good)]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2
        bad = write_config(tmp_path, status=f"127.0.0.1:{server.port}", status_token=TOKEN + "x")
        assert await asyncio.to_thread(main, ["--status", "-c", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "status_token" in captured.err and "401" in captured.err
    assert TOKEN not in captured.err


def test_nothing_answers_is_exit_1_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, status=f"127.0.0.1:{free_port()}")
    assert main(["--status", "-c", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "无法连接到运行中的 nat1_traversal" in captured.err


def test_status_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, status=False)
    assert main(["--status", "-c", str(path)]) == 1
    assert "status 为 false" in capsys.readouterr().err


def test_bad_config_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, status="0.0.0.0:8730")
    assert main(["--status", "-c", str(path)]) == 2
    assert "status_token" in capsys.readouterr().err


def test_unspecified_address_is_asked_on_loopback() -> None:
    v4 = Endpoint(ipaddress.ip_address("0.0.0.0"), 8730)
    v6 = Endpoint(ipaddress.ip_address("::"), 8730)
    other = Endpoint(ipaddress.ip_address("127.0.0.2"), 8730)
    assert str(connect_address(v4)) == "127.0.0.1:8730"
    assert str(connect_address(v6)) == "[::1]:8730"
    assert connect_address(other) == other


@pytest.mark.asyncio
async def test_through_a_real_process(tmp_path: Path) -> None:
    async with running_server(two_services()) as server:
        path = write_config(tmp_path, status=f"127.0.0.1:{server.port}")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nat1_traversal", "--status", "-c", str(path), cwd=Path(__file__).parents[2],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0
    assert [line.split()[0] for line in out.decode("utf-8").splitlines()] == ["java", "bedrock"]
