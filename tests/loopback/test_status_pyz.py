"""The shipped .pyz serves the status surface: prometheus_client is bundled and works from the zipapp.

Built like the release (tools/build_pyz.sh from .wheelhouse/, no network) and run
with ``python3 -I -S``: no site-packages, so /metrics can only work if the wheel
is inside. The product maps against the fake STUN/HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.app_kit import Fakes
from tests.support.ci import IN_CI
from tests.support.keeper_kit import OUTER_A
from tests.support.status_kit import get
from tests.support.util import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".wheelhouse").is_dir():
        reason = "no .wheelhouse/: run tools/install_deps.sh first"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("pyz") / "nat1_traversal.pyz"
    subprocess.run(["bash", str(ROOT / "tools" / "build_pyz.sh"), str(out)], check=True, timeout=300,
                   capture_output=True, env={**os.environ, "PYTHON": sys.executable})
    return out


@pytest.mark.asyncio
async def test_pyz_serves_metrics_page_and_status(pyz: Path, fakes: Fakes, tmp_path: Path) -> None:
    status_port = free_port()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}",
        "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
        "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
        "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
        "keepalive_interval": 1, "status": f"127.0.0.1:{status_port}", "upnp": False,
    }))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "SHIV_ROOT": str(tmp_path / ".shiv"), "NAT1_NO_UVLOOP": "1"}
    argv = [sys.executable, "-I", "-S", str(pyz), "-c", str(path)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        samples: dict[str, float] = {}
        deadline = time.monotonic() + 30  # the first run unpacks the bundle
        while samples.get("nat1_up") != 1:
            assert time.monotonic() < deadline, "the .pyz never reported a mapping"
            assert proc.returncode is None, "the .pyz exited"
            try:
                reply = await get(status_port, "/metrics")
            except OSError:
                await asyncio.sleep(0.1)
                continue
            assert reply.status == 200
            samples = {s.name: s.value for family in text_string_to_metric_families(reply.text)
                       for s in family.samples}
            await asyncio.sleep(0.05)
        assert samples["nat1_mapping_port"] == OUTER_A.port
        page = await get(status_port, "/")
        assert page.status == 200 and str(OUTER_A) in page.text
        asked = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", str(pyz), "--status", "-c", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
        out, _ = await asyncio.wait_for(asked.communicate(), 30)
        assert asked.returncode == 0 and str(OUTER_A) in out.decode("utf-8")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
