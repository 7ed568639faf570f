"""The status surface wired into the product: run_service reports to its own status server.

Real keeper against the fake STUN/HTTP servers on 127.0.0.1, a real Publisher
over a provider that fails once, the status server on a port of the test's own;
and once the real CLI process, asked with ``--status`` and stopped by SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from nat1_traversal.app import Service, run_service
from nat1_traversal.backoff import Backoff
from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.errors import RateLimited
from nat1_traversal.model import Endpoint, Secret
from nat1_traversal.publish import Publisher
from tests.support.app_kit import Fakes
from tests.support.keeper_kit import FAST, LO, OUTER_A, OUTER_B
from tests.support.status_kit import get
from tests.support.util import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
DNS = DnsSettings(kind="webhook", id="http://127.0.0.1:9/hook", token=Secret("hook-secret-value-123"),
                  domain="example.com", sub_domain="mc")


class FailsOnce(Provider):
    label = "fails-once"

    def __init__(self) -> None:
        super().__init__(DNS)
        self.failed = False

    async def sync(self, records: Sequence[Record]) -> int:
        if not self.failed:
            self.failed = True
            raise RateLimited("dns.rate_limited", provider=self.label, detail="429 hook-secret-value-123")
        return 0

    async def aclose(self) -> None:
        return None


async def api(port: int) -> dict[str, object]:
    reply = await get(port, "/api/status")
    assert reply.status == 200
    data = json.loads(reply.body)
    assert isinstance(data, dict)
    return data


def service_of(data: dict[str, object]) -> dict[str, object]:
    services = data["services"]
    assert isinstance(services, list) and len(services) == 1
    service = services[0]
    assert isinstance(service, dict)
    return service


@pytest.mark.asyncio
async def test_run_service_reports_mapping_remap_and_publish(fakes: Fakes) -> None:
    status_port = free_port()
    local = Endpoint(LO, free_port())
    config = fakes.config(type="tcp", local=local, remote=Endpoint(LO, free_port()), dns=DNS,
                          status=Endpoint(LO, status_port))
    publisher = Publisher(config, provider=FailsOnce(), retry=Backoff(first_delay=0.01, max_delay=0.02, jitter=0.0))
    service = Service(config, timing=FAST, publisher=publisher)
    # run_service gives the service its reporter; the test's own publisher reports through it
    publisher.on_result = lambda error: service.reporter.publish_result(error) if service.reporter else None
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        seen: dict[str, object] = {}

        async def poll_until(check: Callable[[dict[str, Any]], bool]) -> dict[str, object]:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    seen.update(service_of(await api(status_port)))
                except OSError:
                    seen.clear()
                if seen and check(seen):
                    return dict(seen)
                await asyncio.sleep(0.02)
            raise AssertionError(f"never {check}: {seen}")

        first = await poll_until(lambda s: s["mapping"] == str(OUTER_A) and s["dns"]["state"] == "ok")
        assert (first["name"], first["state"], first["mode"], first["remaps"]) == ("tcp-" + str(local.port),
                                                                                    "mapped", "forward", 0)
        assert first["local"] == str(local)
        dns = first["dns"]
        assert isinstance(dns, dict) and dns["name"] == "mc.example.com" and dns["last_ok"] is not None
        metrics = (await get(status_port, "/metrics")).text
        assert f'nat1_publish_failures_total{{service="tcp-{local.port}"}} 1.0' in metrics
        assert "hook-secret-value-123" not in json.dumps(first) + metrics
        fakes.rule.outer = OUTER_B
        fakes.http[0].drop_connections()
        second = await poll_until(lambda s: s["mapping"] == str(OUTER_B))
        assert second["remaps"] == 1
    finally:
        began = time.monotonic()
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        elapsed = time.monotonic() - began
    assert elapsed < 1.0
    with pytest.raises(OSError):
        await get(status_port, "/api/status")


@pytest.mark.asyncio
async def test_port_taken_runs_on_without_the_page(fakes: Fakes, caplog: pytest.LogCaptureFixture) -> None:
    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    taken = int(holder.sockets[0].getsockname()[1])
    config = fakes.config(type="tcp", local=Endpoint(LO, free_port()), remote=Endpoint(LO, free_port()),
                          status=Endpoint(LO, taken))
    publisher = Publisher(config)
    service = Service(config, timing=FAST, publisher=publisher)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: service.keeper is not None and service.keeper.current is not None)
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        holder.close()
        await holder.wait_closed()
    warnings = [r.getMessage() for r in caplog.records if "状态页" in r.getMessage()]
    assert len(warnings) == 1 and str(taken) in warnings[0]


@pytest.mark.asyncio
async def test_the_real_process_answers_status_and_stops_on_sigterm(tmp_path: Path, fakes: Fakes) -> None:
    status_port = free_port()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}",
        "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
        "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
        "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
        "keepalive_interval": 1, "status": f"127.0.0.1:{status_port}",
    }))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1"}
    env.pop("NAT1_LANG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nat1_traversal", "-c", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        lines: list[str] = []
        for _ in range(20):
            assert proc.stderr is not None
            raw = await asyncio.wait_for(proc.stderr.readline(), 10)
            assert raw, f"process ended: {lines}"
            lines.append(raw.decode("utf-8", "replace"))
            if "获取到映射地址" in lines[-1]:
                break
        assert any(f"状态页已启动：http://127.0.0.1:{status_port}/" in line for line in lines), lines
        asked = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nat1_traversal", "--status", "-c", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path)
        out, _ = await asyncio.wait_for(asked.communicate(), 30)
        assert asked.returncode == 0
        text = out.decode("utf-8")
        assert len(text.splitlines()) == 1 and "已映射" in text and str(OUTER_A) in text, text
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 3)
        assert code == 0 and time.monotonic() - began < 1.0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
