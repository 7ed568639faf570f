"""Build the shipped artefacts and run them from outside the source tree.

The zipapp is built from the pinned pure wheels in .wheelhouse/ (filled by
tools/install_deps.sh), so this test needs no network. It runs the .pyz with
``python3 -I -S``: no site-packages, no PYTHONPATH, no source tree - only Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nat1_traversal import __version__
from tests.support.app_kit import Fakes
from tests.support.ci import IN_CI
from tests.support.receivers import receiver
from tests.support.util import free_port

ROOT = Path(__file__).resolve().parents[2]
# Build with the Python running the tests (the project's .venv under `make test`).
BUILD_ENV = {**os.environ, "PYTHON": sys.executable}


def _need_wheelhouse() -> None:
    if not (ROOT / ".wheelhouse").is_dir():
        reason = "no .wheelhouse/: run tools/install_deps.sh first"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_wheelhouse()
    out = tmp_path_factory.mktemp("pyz") / "nat1_traversal.pyz"
    subprocess.run(["bash", str(ROOT / "tools" / "build_pyz.sh"), str(out)], check=True, timeout=300,
                   capture_output=True, env=BUILD_ENV)
    return out


def run_pyz(pyz: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "SHIV_ROOT": str(cwd / ".shiv")}
    return subprocess.run([sys.executable, "-I", "-S", str(pyz), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def test_pyz_version_and_help(pyz: Path, tmp_path: Path) -> None:
    version = run_pyz(pyz, "-v", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert __version__ in version.stdout
    help_zh = run_pyz(pyz, "-h", cwd=tmp_path)
    assert help_zh.returncode == 0 and "用法" in help_zh.stdout
    help_en = run_pyz(pyz, "--lang", "en", "-h", cwd=tmp_path)
    assert "usage:" in help_en.stdout


def test_pyz_bad_usage_and_missing_config(pyz: Path, tmp_path: Path) -> None:
    bad = run_pyz(pyz, "--bogus", cwd=tmp_path)
    assert bad.returncode == 2 and "无法识别的参数" in bad.stderr
    missing = run_pyz(pyz, cwd=tmp_path)
    assert missing.returncode == 2 and "config.json" in missing.stderr
    assert not (tmp_path / "config.json").exists()


def test_pyz_bundles_pure_python_only(pyz: Path) -> None:
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert any(name.endswith("nat1_traversal/cli.py") for name in names)
    assert any("/dns/" in name and name.endswith("update.py") for name in names)  # dnspython
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]


def test_pyz_build_is_reproducible(pyz: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pyz"
    subprocess.run(["bash", str(ROOT / "tools" / "build_pyz.sh"), str(again)], check=True, timeout=300, env=BUILD_ENV,
                   capture_output=True)
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(pyz.read_bytes()).digest()


@pytest.mark.slow
def test_pyinstaller_one_file_binary(tmp_path: Path) -> None:
    if shutil.which("pyinstaller") is None and not _has_module("PyInstaller"):
        if IN_CI:
            pytest.fail("PyInstaller is not installed")
        pytest.skip("PyInstaller is not installed")
    dist, work = tmp_path / "dist", tmp_path / "work"
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist), "--workpath",
                    str(work), str(ROOT / "nat1_traversal.spec")], check=True, timeout=900, capture_output=True,
                   cwd=tmp_path)
    binary = dist / "nat1_traversal"
    result = subprocess.run([str(binary), "-v"], capture_output=True, text=True, timeout=60, check=False,
                            cwd=tmp_path)
    assert result.returncode == 0 and __version__ in result.stdout
    # The DNS providers are found by the registry at run time: every one must be in the binary.
    (tmp_path / "bad.json").write_text('{"dns": "route53"}')
    listed = subprocess.run([str(binary), "-c", "bad.json"], capture_output=True, text=True, timeout=60,
                            check=False, cwd=tmp_path)
    assert listed.returncode == 2
    assert "no_dns, cloudflare, dynv6, webhook, tencentcloud, alidns, rfc2136" in listed.stdout + listed.stderr


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _other_pythons() -> list[str]:
    """Every CPython >= 3.10 on this machine (pyenv installs and PATH), the running one included."""
    found = {sys.executable}
    for name in ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14"):
        path = shutil.which(name)
        if path and "/shims/" not in path:  # pyenv shims refuse versions not selected globally
            found.add(path)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        for version in pyenv.iterdir():
            parts = version.name.split(".")
            if len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit() and int(parts[1]) >= 10:
                candidate = version / "bin" / "python3"
                if candidate.exists():
                    found.add(str(candidate))
    unique = {os.path.realpath(path): path for path in sorted(found)}
    return sorted(unique.values())


@pytest.mark.parametrize("python", _other_pythons())
def test_pyz_runs_on_every_python(pyz: Path, tmp_path: Path, python: str) -> None:
    """The shipped file on each interpreter: help, a query and a NAT test that reach nobody."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "SHIV_ROOT": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-I", "-S", str(pyz), *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)

    assert run("-v").returncode == 0
    query = run("-qj", "127.0.0.1:9", "-d")
    assert query.returncode == 0 and "MCJE: 服务器离线" in query.stdout, query.stderr
    config = tmp_path / "stun.json"
    config.write_text('{"stun_udp": ["127.0.0.1:9"], "stun_tcp": ["127.0.0.1:9"], "reach_check": []}')
    nat = run("-t", "-c", str(config))
    assert nat.returncode == 1 and "Traceback" not in nat.stderr, nat.stderr


def test_pyz_checks_apprise_urls(pyz: Path, tmp_path: Path) -> None:
    """Apprise is bundled (without PyYAML, which it imports only for YAML config files)."""
    import zipfile

    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert any(name.endswith("apprise/plugins/custom_json.py") for name in names)
    assert not [n for n in names if "/yaml/" in n]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"local": ":25565", "notify": ["wecombot://a1b2c3d4e5f6", "bogus://Secret7x9"]}),
                      encoding="utf-8")
    result = run_pyz(pyz, "-d", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "notify[1]" in result.stderr and "notify[0]" not in result.stderr
    assert "Secret7x9" not in result.stderr


@pytest.mark.asyncio
async def test_pyz_sends_a_notification_with_only_python(pyz: Path, tmp_path: Path, fakes: Fakes) -> None:
    """The bundled Apprise delivers from ``python3 -I -S x.pyz``: nothing but the .pyz and Python."""
    import asyncio
    import signal

    echo = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    with receiver() as rx:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "type": "tcp", "status": False, "upnp": False, "reach_check": [], "keepalive_interval": 1,
            "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
            "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
            "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
            "notify": [f"json://127.0.0.1:{rx.port}/hook/Tok3nInPath99"], "notify_template": "{address}",
        }), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
               "SHIV_ROOT": str(tmp_path / ".shiv")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", str(pyz), "-d", "-c", str(config), "-l", f"127.0.0.1:{free_port()}",
            "-r", f"127.0.0.1:{echo_port}", cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            requests = await asyncio.to_thread(rx.wait_for, 1, 60)
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 10)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            echo.close()
    assert json.loads(requests[0].body)["message"] == "198.51.100.7:61001"
    assert proc.returncode == 0 and b"Tok3nInPath99" not in output
