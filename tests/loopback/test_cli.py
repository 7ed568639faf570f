"""The command line (SPEC section 2): options, help, exit codes, config creation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nat1_traversal import cli
from nat1_traversal.cli import parse_options
from nat1_traversal.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "NAT1_LANG"}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "nat1_traversal", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize(
    ("argv", "kind", "target"),
    [
        (["-q"], "all", None),
        (["-q", "mc.example.com"], "all", "mc.example.com"),
        (["--query", "[::1]:25565"], "all", "[::1]:25565"),
        (["--query-java"], "java", None),
        (["-qj", "h:1"], "java", "h:1"),
        (["-qj6", "h"], "java6", "h"),
        (["--query-java-v6"], "java6", None),
        (["-qb"], "bedrock", None),
        (["--query-bedrock", "h:19132"], "bedrock", "h:19132"),
        (["-qb6"], "bedrock6", None),
        (["--query-bedrock-v6", "h"], "bedrock6", "h"),
    ],
)
def test_query_options(argv: list[str], kind: str, target: str | None) -> None:
    options = parse_options(argv)
    assert (options.query_kind, options.query_target) == (kind, target)


def test_local_remote_defaults() -> None:
    options = parse_options(["-l", "-r"])
    assert str(options.local) == "0.0.0.0:25565" and str(options.remote) == "127.0.0.1:25565"
    options = parse_options(["-l", ":25565", "-r", ":25566", "-c", "x.json", "-d"])
    assert str(options.local) == "0.0.0.0:25565" and str(options.remote) == "127.0.0.1:25566"
    assert options.config == Path("x.json") and options.config_given and options.debug
    assert parse_options(["--local=1.2.3.4:5"]).local is not None


@pytest.mark.parametrize(
    "argv",
    [["-x"], ["-l", ":0"], ["-r", "a.b:1"], ["-q", "-t"], ["-q", "-qb"], ["--lang", "fr"], ["-c"], ["extra"]],
)
def test_bad_usage_raises(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_options(argv)


def test_help_chinese_and_english(tmp_path: Path) -> None:
    zh = run_cli("-h", cwd=tmp_path)
    assert zh.returncode == 0 and "用法" in zh.stdout and "--query-bedrock-v6" in zh.stdout
    en = run_cli("-h", "--lang", "en", cwd=tmp_path)
    assert en.returncode == 0 and "usage:" in en.stdout
    env = run_cli("--help", cwd=tmp_path, env={"NAT1_LANG": "en"})
    assert "usage:" in env.stdout


def test_version(tmp_path: Path) -> None:
    from nat1_traversal import __version__

    result = run_cli("-v", cwd=tmp_path)
    assert result.returncode == 0 and __version__ in result.stdout


def test_bad_option_exit_2_chinese(tmp_path: Path) -> None:
    result = run_cli("--nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "无法识别的参数" in result.stderr and "Traceback" not in result.stderr


def test_bad_address_exit_2(tmp_path: Path) -> None:
    result = run_cli("-l", "1.2.3:80", cwd=tmp_path)
    assert result.returncode == 2 and "-l" in result.stderr and "IP" in result.stderr


def test_missing_config_without_terminal_creates_nothing(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2
    assert "config.json" in result.stderr and "不存在" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_three_mistakes_three_messages(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({
        "type": "java", "dns": "cloudflare", "token": "tok-XYZ-123456", "domain": "example.com",
        "sub_domain": "mc", "local": ":99999", "keepalive_interval": -1,
    }))
    result = run_cli("-d", cwd=tmp_path)
    assert result.returncode == 2
    assert "3 处错误" in result.stderr
    for field in ("type", "local", "keepalive_interval"):
        assert f"  - {field}" in result.stderr
    assert "tok-XYZ-123456" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_missing_config_on_terminal_offers_to_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    asked: list[str] = []

    def fake_input(prompt: str) -> str:
        asked.append(prompt)
        return "y"

    monkeypatch.setattr("builtins.input", fake_input)
    assert cli.main([]) == 0
    assert "是否生成新配置[y/N]" in asked[0]
    created = tmp_path / "config.json"
    assert created.exists() and oct(created.stat().st_mode & 0o777) == "0o600"
    assert "已生成默认配置" in capsys.readouterr().out


def test_missing_config_on_terminal_declined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "")
    assert cli.main([]) == 2
    assert list(tmp_path.iterdir()) == []


def test_no_local_anywhere_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"local": null}')
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 2 and "local" in result.stderr
