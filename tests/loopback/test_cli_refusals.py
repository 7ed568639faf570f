"""Config and topology the CLI must refuse: exit 2, one clear Chinese line, nothing written (issue 15).

Every case runs the real CLI. Before the fixes these ended in "unexpected error" (exit 1),
hung, or started a service that misbehaved; a service that starts by mistake here only
talks to closed ports on 127.0.0.1 and is killed by the time bound.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.cli_run import LOOPBACK_ONLY, run_cli, snapshot, write_config

TIMEOUT = 20.0


def refused(*args: str, cwd: Path) -> str:
    """Run the CLI, expect exit 2 with a Chinese error line and no traceback; return stderr."""
    before = snapshot(cwd)
    try:
        done = run_cli(*args, cwd=cwd, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args[:4]}: still running after {TIMEOUT} s (accepted, or hung)")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "意外错误" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("[   ERROR]")]
    assert errors and any("\u4e00" <= ch <= "\u9fff" for ch in errors[0]), done.stderr
    assert all(len(line) < 600 for line in done.stderr.splitlines()), "a line echoes the whole input"
    assert snapshot(cwd) == before, "a file was created or rewritten"
    return done.stderr


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("keepalive_interval", "NaN"),
        ("keepalive_interval", "Infinity"),
        ("keepalive_interval", "-Infinity"),
        ("keepalive_interval", "1e308"),
        ("keepalive_interval", "86400000"),
        ("idle_timeout", "NaN"),
        ("idle_timeout", "Infinity"),
        ("idle_timeout", "1e300"),
        ("ttl", "NaN"),
        ("ttl", "1e400"),
        ("ttl", "99999999999"),
        ("max_connections", "NaN"),
        ("max_connections", "10000000"),
        ("max_connections", "1e6"),
    ],
)
def test_non_finite_and_absurd_numbers(tmp_path: Path, key: str, raw: str) -> None:
    text = json.dumps({**LOOPBACK_ONLY, "local": "127.0.0.1:1", "remote": "127.0.0.1:2"})
    (tmp_path / "config.json").write_text(text[:-1] + f', "{key}": {raw}}}', encoding="utf-8")
    stderr = refused("-c", "config.json", cwd=tmp_path)
    assert f"{key}：" in stderr


def test_ranges_are_stated(tmp_path: Path) -> None:
    write_config(tmp_path, local=":1", keepalive_interval=7200)
    assert "1 到 3600" in refused("-c", "config.json", cwd=tmp_path)


def test_integer_of_5000_digits(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"local": ":1", "ttl": ' + "9" * 5000 + "}", encoding="utf-8")
    assert "位数过多" in refused("-c", "config.json", cwd=tmp_path)


def test_100000_levels_of_nesting(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    assert "嵌套" in refused("-c", "config.json", cwd=tmp_path)


def test_moderate_nesting_in_a_value(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"local": ":1", "type": ' + "[" * 900 + "]" * 900 + "}",
                                          encoding="utf-8")
    assert "嵌套" in refused("-c", "config.json", cwd=tmp_path)


# --------------------------------------------------------------------------- the -c path


def test_5000_character_path(tmp_path: Path) -> None:
    stderr = refused("-c", "a" * 5000, cwd=tmp_path)
    assert "太长" in stderr


def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    assert "不是普通文件" in refused("-c", "fifo", cwd=tmp_path)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_device_is_refused(tmp_path: Path, device: str) -> None:
    assert "不是普通文件" in refused("-c", device, cwd=tmp_path)


def test_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert "不是普通文件" in refused("-c", "sub", cwd=tmp_path)


def test_file_over_one_mib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"local": ":1", "x": "' + "a" * (1 << 20) + '"}', encoding="utf-8")
    assert "太大" in refused("-c", "config.json", cwd=tmp_path)


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize("text", [":²", "²", "1.2.3.4:²", ":٣", ":２５５６５"])
def test_non_ascii_digits_in_a_port(tmp_path: Path, text: str) -> None:
    write_config(tmp_path)
    assert "无效" in refused("-c", "config.json", "-l", text, cwd=tmp_path)


def test_non_ascii_digits_in_a_config_port(tmp_path: Path) -> None:
    write_config(tmp_path, local=":²")
    assert "端口无效" in refused("-c", "config.json", cwd=tmp_path)


@pytest.mark.parametrize(
    ("local", "remote"),
    [
        (None, None),  # bare -l -r: 0.0.0.0:25565 -> 127.0.0.1:25565
        (":25570", ":25570"),
        ("127.0.0.1:25570", "127.0.0.1:25570"),
        ("0.0.0.0:25570", "127.0.0.2:25570"),  # any address of this host
        ("[::]:25570", "127.0.0.1:25570"),  # [::] is dual stack
        ("[::]:25570", "[::1]:25570"),
        ("[::1]:25570", "[::1]:25570"),
        ("127.0.0.1:25570", "[::ffff:127.0.0.1]:25570"),
    ],
)
def test_remote_that_is_our_own_listener(tmp_path: Path, local: str | None, remote: str | None) -> None:
    write_config(tmp_path)
    args = ["-c", "config.json", "-l", *([local] if local else []), "-r", *([remote] if remote else [])]
    assert "自环" in refused(*args, cwd=tmp_path)


def test_self_loop_in_the_config_file(tmp_path: Path) -> None:
    write_config(tmp_path, local=":25571", remote="127.0.0.1:25571")
    stderr = refused("-c", "config.json", cwd=tmp_path)
    assert "自环" in stderr and "config.json" in stderr


@pytest.mark.parametrize("remote", ["0.0.0.0:25572", "[::]:25572", "0.0.0.0", "[::ffff:0.0.0.0]:1"])
def test_unspecified_remote(tmp_path: Path, remote: str) -> None:
    write_config(tmp_path)
    assert "只能用于监听" in refused("-c", "config.json", "-l", ":25573", "-r", remote, cwd=tmp_path)


def test_unspecified_remote_in_the_config_file(tmp_path: Path) -> None:
    write_config(tmp_path, local=":25574", remote="[::]:25575")
    assert "只能用于监听" in refused("-c", "config.json", cwd=tmp_path)


def test_numbers_inside_services_are_checked_too(tmp_path: Path) -> None:
    text = json.dumps({**LOOPBACK_ONLY, "services": [
        {"name": "a", "type": "tcp", "local": "127.0.0.1:25576"},
        {"name": "b", "type": "udp", "local": "127.0.0.1:25577", "keepalive_interval": 1},
    ]})
    (tmp_path / "config.json").write_text(text.replace('"keepalive_interval": 1', '"keepalive_interval": NaN'),
                                          encoding="utf-8")
    assert "services[1].keepalive_interval" in refused("-c", "config.json", cwd=tmp_path)


def test_self_loop_inside_services(tmp_path: Path) -> None:
    write_config(tmp_path, services=[
        {"name": "a", "type": "tcp", "local": "127.0.0.1:25578", "remote": "127.0.0.1:25579"},
        {"name": "b", "type": "udp", "local": ":25580", "remote": "127.0.0.1:25580"},
    ])
    stderr = refused("-c", "config.json", cwd=tmp_path)
    assert "services[1]" in stderr and "自环" in stderr
