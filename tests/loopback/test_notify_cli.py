"""Notifications through the real CLI with ``-d`` (SPEC section 15): the daemon maps a port
against fake STUN servers on 127.0.0.1, publishes through a webhook DNS receiver, then notifies
two Apprise receivers: one message each, under 2 s after publishing, the one that answered
500 retried, and no secret of any URL (nor the DNS token) anywhere in the output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.support.app_kit import Fakes
from tests.support.receivers import receiver, scripted
from tests.support.util import free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Pw-c0ffee42"
PATH_TOKEN = "HookTok3n71ab"
HEADER_VALUE = "HdrS3cret55"
DNS_TOKEN = "DnsT0ken-9f8e7d"
MAPPED = "198.51.100.7:61001"  # what the fake STUN servers answer (tests/support/keeper_kit.py)


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.asyncio
async def test_cli_notifies_once_per_url_after_publishing_without_leaking(tmp_path: Path, fakes: Fakes) -> None:
    echo, echo_port = await _echo_server()
    with receiver() as dns_rx, receiver(scripted(500)) as json_rx, receiver() as form_rx:
        cfg = {
            "type": "tcp",
            "dns": "webhook", "id": f"http://127.0.0.1:{dns_rx.port}/dns", "token": DNS_TOKEN,
            "domain": "example.com", "sub_domain": "mc",
            "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
            "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
            "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
            "keepalive_interval": 1,
            "status": False, "upnp": False,
            "notify": [f"json://bot:{PASSWORD}@127.0.0.1:{json_rx.port}/hooks/{PATH_TOKEN}?+X-Auth={HEADER_VALUE}",
                       f"form://127.0.0.1:{form_rx.port}/notify"],
            "notify_template": "开服啦 {address}（{fqdn}）",
        }
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg), encoding="utf-8")
        path.chmod(0o600)
        env = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1"}
        env.pop("NAT1_LANG", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nat1_traversal", "-d", "-c", str(path),
            "-l", f"127.0.0.1:{free_port()}", "-r", f"127.0.0.1:{echo_port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL)
        try:
            dns_requests = await asyncio.to_thread(dns_rx.wait_for, 2, 20)
            json_requests = await asyncio.to_thread(json_rx.wait_for, 2, 10)  # a 500, then the retry
            form_requests = await asyncio.to_thread(form_rx.wait_for, 1, 5)
            await asyncio.sleep(0.5)  # time for a duplicate to show up, if there were one
            proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 5)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            echo.close()
    text = output.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert len(json_rx.requests) == 2 and len(form_rx.requests) == 1 and len(dns_rx.requests) == 2
    published = dns_requests[0].at
    assert json_requests[0].at >= published and form_requests[0].at >= published
    assert json_requests[0].at - dns_requests[-1].at < 2.0
    assert form_requests[0].at - dns_requests[-1].at < 2.0
    expected = f"开服啦 {MAPPED}（mc.example.com）"
    assert json.loads(json_requests[1].body)["message"] == expected
    assert parse_qs(form_requests[0].body.decode())["message"] == [expected]
    assert json_requests[1].headers["x-auth"] == HEADER_VALUE  # the secret did reach the receiver
    assert f"已发送通知到 notify[0] (json)：{MAPPED}" in text and f"已发送通知到 notify[1] (form)：{MAPPED}" in text
    assert "发送通知到 notify[0] (json) 失败" in text
    assert "DEBUG" in text  # -d was on
    for secret in (PASSWORD, PATH_TOKEN, HEADER_VALUE, DNS_TOKEN):
        assert secret not in text, secret
