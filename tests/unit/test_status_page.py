"""The page renderer (pure): the 24 h timeline geometry, escaping, the CSP hashes."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone

from nat1_traversal.status.page import CONTENT_SECURITY_POLICY, SCRIPT, STYLE, TIMELINE_WIDTH, render_page
from nat1_traversal.status.registry import StatusRegistry

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def registry_with_history() -> StatusRegistry:
    moments = iter([NOW - timedelta(hours=48),  # started
                    NOW - timedelta(hours=30), NOW - timedelta(hours=12), NOW - timedelta(hours=6)])
    current = [NOW]

    def clock() -> datetime:
        return next(moments, current[0])

    registry = StatusRegistry("1.0", clock=clock)
    registry.add_service("web-8443", type="web", proto="tcp", mode="forward", local="0.0.0.0:8443",
                         remote="127.0.0.1:443", dns_name=None)
    for port in (1000, 2000, 3000):
        registry.set_mapping("web-8443", f"198.51.100.1:{port}")
    return registry


def test_timeline_segments_and_ticks() -> None:
    html = render_page(registry_with_history().snapshot())
    segments = re.findall(r'<rect class="seg\d" x="([\d.]+)" y="0" width="([\d.]+)"', html)
    # the mapping current 24 h ago starts at the left edge; the others at -12 h and -6 h
    assert [(float(x), float(w)) for x, w in segments] == [
        (0.0, TIMELINE_WIDTH / 2),
        (TIMELINE_WIDTH / 2, TIMELINE_WIDTH / 4),
        (TIMELINE_WIDTH * 3 / 4, TIMELINE_WIDTH / 4),
    ]
    ticks = re.findall(r'<line class="tick" x1="([\d.]+)"', html)
    assert [float(x) for x in ticks] == [TIMELINE_WIDTH / 2, TIMELINE_WIDTH * 3 / 4]
    assert "24 小时内映射变化 2 次" in html
    assert "198.51.100.1:1000" in html  # its segment's tooltip


def test_every_value_is_escaped() -> None:
    registry = StatusRegistry("<v>")
    registry.add_service("x", type="tcp", proto="tcp", mode="forward", local="0.0.0.0:1", remote="127.0.0.1:2",
                         dns_name='a"b<c>.example')
    registry.set_state("x", "failed", "</script><script>alert(1)</script>")
    html = render_page(registry.snapshot())
    assert "<script>alert(1)" not in html and "&lt;/script&gt;&lt;script&gt;alert(1)" in html
    assert 'a"b<c>' not in html and "a&quot;b&lt;c&gt;.example" in html
    assert "<v>" not in html


def test_csp_allows_exactly_the_inline_script_and_style() -> None:
    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert f"script-src 'sha256-{digest(SCRIPT)}'" in CONTENT_SECURITY_POLICY
    assert f"style-src 'sha256-{digest(STYLE)}'" in CONTENT_SECURITY_POLICY
    html = render_page(registry_with_history().snapshot())
    assert f"<script>{SCRIPT}</script>" in html and f"<style>{STYLE}</style>" in html
    assert " style=" not in html  # inline style attributes would need 'unsafe-inline'
