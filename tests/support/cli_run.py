"""Running the real CLI as a child process, with configs that only ever reach loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every server a service would contact is a closed port on 127.0.0.1: a config that the
# product wrongly accepts starts a service that sends nothing beyond loopback.
LOOPBACK_ONLY: dict[str, object] = {
    "dns": "no_dns",
    "stun_tcp": ["127.0.0.1:9"],
    "stun_udp": ["127.0.0.1:9"],
    "keepalive_tcp": ["127.0.0.1:9"],
    "status": False,
    "upnp": False,
    "reach_check": [],
    "resolver": "system",
}


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NAT1_LANG", "PYTHONPATH")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "nat1_traversal", *args]


def run_cli(*args: str, cwd: Path, timeout: float = 30, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run to the end (bounded by ``timeout``; a child still running then is killed)."""
    return subprocess.run(cli_argv(*args), cwd=cwd, env=cli_env(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def write_config(folder: Path, name: str = "config.json", **keys: object) -> Path:
    """A config file of ``LOOPBACK_ONLY`` plus ``keys``."""
    path = folder / name
    path.write_text(json.dumps({**LOOPBACK_ONLY, **keys}), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Name -> (size, mtime_ns) of everything in ``folder``: proves nothing was created or rewritten."""
    return {p.name: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.iterdir()}
