"""Issue 11's browser test: headless chromium on the status page of a running product process.

The real CLI runs as a child process with two services in one ``services`` config,
against the loopback fake STUN/HTTP servers (``upnp`` false, ``reach_check`` false so that
not even the hairpin leaves loopback, its own status port on 127.0.0.1). Through the DOM
(never pixels): both services' mappings show, the copy button puts the mapping on the
clipboard, and after a remap (the fake NAT's outer address changes) the page updates
itself. The screenshot is kept in the test's tmp dir and its path printed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cdp import Chromium, chromium_path
from tests.support.ci import require_root_tools
from tests.support.cli_run import LOOPBACK_ONLY, cli_argv, cli_env
from tests.support.services_kit import Servers, api_services, servers
from tests.support.util import free_port

__all__ = ["servers"]  # the fixture
pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
REMAPPED_IP = ipaddress.IPv4Address("198.51.100.99")


async def mapped(port: int, check: Callable[[dict[str, dict[str, Any]]], bool],
                 proc: asyncio.subprocess.Process, timeout: float = 30) -> dict[str, dict[str, Any]]:
    """The running process's /api/status until ``check`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        assert proc.returncode is None, "the product process ended"
        try:
            seen = await api_services(port)
        except OSError:
            seen = {}
        if seen and check(seen):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"status never matched: {seen}")


def drive(executable: str, profile: Path, url: str, shot: Path, remap: Callable[[], str]) -> dict[str, object]:
    """The browser session (blocking, in a thread while the test's loop runs the fakes)."""
    found: dict[str, object] = {}
    with Chromium(executable, profile, url) as browser:
        page = browser.page(url)
        try:
            page.call("Runtime.enable")
            page.wait_for("document.readyState === 'complete' && document.querySelectorAll('section.card').length")
            found["names"] = page.evaluate(
                "Array.from(document.querySelectorAll('section.card')).map(e => e.dataset.service)")
            found["mappings"] = page.evaluate(
                "Array.from(document.querySelectorAll('[data-field=mapping]')).map(e => e.textContent)")
            page.call("Browser.grantPermissions", origin=url.rstrip("/"),
                      permissions=["clipboardReadWrite", "clipboardSanitizedWrite"])
            page.evaluate("document.querySelector('[data-service=\"web\"] button.copy').click()", user_gesture=True)
            found["button"] = page.wait_for(
                "(t => t !== '复制' && t)(document.querySelector('[data-service=\"web\"] button.copy').textContent)")
            found["clipboard"] = page.evaluate("navigator.clipboard.readText()", await_promise=True,
                                               user_gesture=True)
            new_mapping = remap()  # the fake NAT moves the TCP service; nobody reloads the page
            found["new_mapping"] = new_mapping
            web = "document.querySelector('[data-service=\"web\"]')"
            page.wait_for(f"{web}.querySelector('[data-field=mapping]').textContent === {json.dumps(new_mapping)}",
                          timeout=40)
            found["remaps"] = page.evaluate(f"{web}.querySelector('[data-field=remaps]').textContent")
            found["copy_after"] = page.evaluate(f"{web}.querySelector('button.copy').dataset.copy")
            found["after"] = page.evaluate(
                "Array.from(document.querySelectorAll('[data-field=mapping]')).map(e => e.textContent)")
            page.screenshot(shot)
        finally:
            page.close()
    return found


async def test_chromium_on_the_status_page_of_a_running_process(tmp_path: Path, servers: Servers) -> None:
    require_root_tools("chromium", root=False)
    executable = chromium_path()
    assert executable is not None
    status_port = free_port()
    web_port, bedrock_port = free_port(), free_port(socket.SOCK_DGRAM)
    path = tmp_path / "config.json"
    # reach_check false, not []: [] keeps the hairpin check, which would connect to the fake public
    # addresses (TEST-NET, outside loopback); false turns that off too.
    path.write_text(json.dumps({**LOOPBACK_ONLY, **servers.keys(), "upnp": False, "reach_check": False,
                                "status": f"127.0.0.1:{status_port}", "services": [
        {"name": "web", "type": "web", "local": f"127.0.0.1:{web_port}", "remote": f"127.0.0.1:{free_port()}"},
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{bedrock_port}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
    ]}), encoding="utf-8")
    log = tmp_path / "product.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *cli_argv("-c", str(path)), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr, env=cli_env({"NAT1_NO_UVLOOP": "1"}), cwd=tmp_path)
    try:
        first = await mapped(status_port, lambda s: all(e["state"] == "mapped" for e in s.values()), proc)
        web_mapping = servers.tcp_rule.outer_of(web_port)
        bedrock_mapping = servers.udp_rule.outer_of(bedrock_port)
        assert first["web"]["mapping"] == web_mapping and first["bedrock"]["mapping"] == bedrock_mapping
        loop = asyncio.get_running_loop()

        def remap() -> str:
            async def move() -> None:
                servers.tcp_rule.ip = REMAPPED_IP  # the outer address changes
                servers.http[0].drop_connections()  # the keepalive breaks, as it does when a NAT remaps
            asyncio.run_coroutine_threadsafe(move(), loop).result(10)
            return servers.tcp_rule.outer_of(web_port)

        shot = tmp_path / "status_page.png"
        url = f"http://127.0.0.1:{status_port}/"
        found = await asyncio.to_thread(drive, executable, tmp_path / "profile", url, shot, remap)
        print(f"status page screenshot: {shot}")
        after = await api_services(status_port)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, log.read_text(encoding="utf-8", errors="replace")
    assert found["names"] == ["web", "bedrock"]
    assert found["mappings"] == [web_mapping, bedrock_mapping]
    assert found["button"] == "已复制"
    assert found["clipboard"] == web_mapping
    new_mapping = str(found["new_mapping"])
    assert new_mapping.startswith(f"{REMAPPED_IP}:") and new_mapping != web_mapping
    assert found["after"] == [new_mapping, bedrock_mapping]  # only the TCP service moved
    assert found["remaps"] == "1" and found["copy_after"] == new_mapping
    assert after["web"]["mapping"] == new_mapping and after["web"]["remaps"] == 1
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
