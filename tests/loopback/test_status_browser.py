"""A real browser on the status page: Debian's headless chromium against a server on 127.0.0.1.

Two services, driven through the registry. Asserts through the DOM (never pixels)
that both mappings show, that the copy button puts the mapping on the clipboard,
and that the page refreshes itself when a mapping changes; a screenshot is saved
in the test's tmp dir as an artifact. The no-JavaScript case is chromium too,
with scripts switched off.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from nat1_traversal.status.model import PortmapStatus
from nat1_traversal.status.registry import StatusRegistry
from tests.support.cdp import Chromium, chromium_path, html_without_javascript
from tests.support.ci import require_root_tools
from tests.support.status_kit import BEDROCK_MAPPING, JAVA_MAPPING, running_server, two_services

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
NEW_BEDROCK = "203.0.113.9:42424"
RENEWS = datetime(2026, 12, 1, 13, 30, 0, tzinfo=timezone.utc)


def _chromium() -> str:
    require_root_tools("chromium", root=False)
    path = chromium_path()
    assert path is not None
    return path


# Every field of every card, as the live page shows it, and as a fresh render of the server shows it.
FIELDS_NOW_AND_FRESH = """
fetch(location.pathname + location.search, {cache: 'no-store'}).then(r => r.text()).then(h => {
  const fresh = new DOMParser().parseFromString(h, 'text/html');
  const fields = doc => Array.from(doc.querySelectorAll('section.card [data-field]')).map(
    e => e.closest('section.card').dataset.service + '.' + e.dataset.field + '=' + e.textContent);
  return {live: fields(document), fresh: fields(fresh)};
})"""


def drive(executable: str, tmp_path: Path, url: str, registry_changed: asyncio.Event,
          loop: asyncio.AbstractEventLoop, change: Callable[[], None]) -> dict[str, object]:
    """The browser session (blocking calls, run in a thread while the server serves)."""
    found: dict[str, object] = {}
    with Chromium(executable, tmp_path / "profile", url) as browser:
        page = browser.page(url)
        try:
            page.call("Runtime.enable")
            page.wait_for("document.readyState === 'complete' && document.querySelectorAll('section.card').length")
            found["text"] = page.evaluate("document.body.innerText")
            found["mappings"] = page.evaluate(
                "Array.from(document.querySelectorAll('[data-field=mapping]')).map(e => e.textContent)")
            origin = url.split("/?", maxsplit=1)[0].rstrip("/")
            page.call("Browser.grantPermissions", origin=origin,
                      permissions=["clipboardReadWrite", "clipboardSanitizedWrite"])
            page.evaluate("document.querySelector('[data-service=\"java\"] button.copy').click()",
                          user_gesture=True)
            found["button"] = page.wait_for(
                "(t => t !== '复制' && t)(document.querySelector('[data-service=\"java\"] button.copy').textContent)")
            found["clipboard"] = page.evaluate("navigator.clipboard.readText()", await_promise=True,
                                               user_gesture=True)
            # the script's refresh without a remap: every field the server renders follows
            # (the router's forward, reachability, DNS state and error, the service's state)
            loop.call_soon_threadsafe(change)
            page.wait_for("document.querySelector('[data-service=\"java\"] [data-field=portmap]')"
                          ".textContent.includes('PCP')", timeout=20)
            page.wait_for("document.querySelector('[data-service=\"bedrock\"] [data-field=dns_state]')"
                          ".textContent === '已发布'", timeout=20)
            found["fields"] = page.evaluate(FIELDS_NOW_AND_FRESH, await_promise=True)
            # the script's refresh: a remap on the server shows without a reload by the user
            loop.call_soon_threadsafe(registry_changed.set)
            page.wait_for(f"document.body.innerText.includes({json.dumps(NEW_BEDROCK)})", timeout=20)
            found["updated_remaps"] = page.evaluate(
                "document.querySelector('[data-service=\"bedrock\"] [data-field=remaps]').textContent")
            page.screenshot(tmp_path / "status_page.png")
        finally:
            page.close()
    return found


async def test_page_in_chromium_shows_both_mappings_and_copies(tmp_path: Path) -> None:
    executable = _chromium()
    registry: StatusRegistry = two_services()
    changed = asyncio.Event()

    async def remap_when_asked() -> None:
        await changed.wait()
        registry.set_mapping("bedrock", NEW_BEDROCK)

    def change() -> None:
        registry.set_portmap("java", PortmapStatus("PCP", "192.168.1.1", RENEWS))
        registry.set_portmap("bedrock", PortmapStatus(None, None, None, "路由器拒绝了请求"))
        registry.set_reachable("java", False)
        registry.dns_published("bedrock")
        registry.set_state("java", "retrying", "保活连接断开")

    async with running_server(registry) as server:
        url = f"http://127.0.0.1:{server.port}/"
        remapper = asyncio.create_task(remap_when_asked())
        try:
            found = await asyncio.to_thread(drive, executable, tmp_path, url, changed, asyncio.get_running_loop(),
                                            change)
        finally:
            remapper.cancel()
            await asyncio.gather(remapper, return_exceptions=True)
    assert found["mappings"] == [JAVA_MAPPING, BEDROCK_MAPPING]
    text = str(found["text"])
    assert "java" in text and "bedrock" in text and "mc.example.com" in text
    assert found["button"] == "已复制"
    assert found["clipboard"] == JAVA_MAPPING
    assert found["updated_remaps"] == "1"
    fields = found["fields"]
    assert isinstance(fields, dict)
    assert fields["live"] == fields["fresh"]  # nothing the server renders is left stale by the script
    assert "java.portmap=PCP（路由器 192.168.1.1），" in "\n".join(fields["live"])
    shot = tmp_path / "status_page.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_page_in_chromium_without_javascript(tmp_path: Path) -> None:
    executable = _chromium()
    async with running_server(two_services(), "browser-token-0123456789") as server:
        url = f"http://127.0.0.1:{server.port}/?token=browser-token-0123456789"
        dom = await asyncio.to_thread(html_without_javascript, executable, tmp_path / "profile", url)
    assert JAVA_MAPPING in dom and BEDROCK_MAPPING in dom
    assert "已映射" in dom and "公网可达" in dom
    assert 'data-copy="203.0.113.7:40123"' in dom
