"""The status server on 127.0.0.1 with real sockets: API shape, metrics, page, token, limits."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import socket
from html.parser import HTMLParser

import pytest
from prometheus_client.parser import text_string_to_metric_families

from nat1_traversal.log import register_secrets
from nat1_traversal.model import Endpoint
from nat1_traversal.status.http import MAX_HEADER_BYTES, MAX_REQUEST_LINE
from nat1_traversal.status.server import StatusServer
from tests.support.status_kit import (
    BEDROCK_MAPPING,
    JAVA_MAPPING,
    LOOPBACK,
    get,
    raw_request,
    running_server,
    two_services,
)
from tests.support.util import wait_until

pytestmark = pytest.mark.asyncio
TOKEN = "s3cr3t-token-0123456789"


def fetch_json(port: int, path: str) -> tuple[int, str, object]:
    """The standard library's HTTP client, as a script would use it (run in a thread)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, response.getheader("Content-Type") or "", json.loads(body)
    finally:
        connection.close()


async def test_api_status_is_the_spec_shape_read_by_a_real_http_client() -> None:
    async with running_server(two_services()) as server:
        status, content_type, data = await asyncio.to_thread(fetch_json, server.port, "/api/status")
    assert status == 200 and content_type.startswith("application/json")
    assert isinstance(data, dict)
    assert set(data) == {"version", "started", "services"}
    assert data["version"] == "1.2.3"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["started"])
    java, bedrock = data["services"]
    assert set(java) == {"name", "type", "proto", "mode", "local", "remote", "state", "mapping", "since",
                         "remaps", "reachable", "dns", "error", "portmap"}  # portmap: SPEC §14 extension
    assert set(java["dns"]) == {"name", "state", "last_ok", "error"}
    assert (java["name"], java["mode"], java["remote"], java["mapping"], java["remaps"], java["reachable"]) == (
        "java", "shared", None, JAVA_MAPPING, 1, True)
    assert java["dns"]["state"] == "ok" and java["dns"]["last_ok"] is not None
    assert (bedrock["proto"], bedrock["mode"], bedrock["remote"], bedrock["mapping"]) == (
        "udp", "forward", "127.0.0.1:19133", BEDROCK_MAPPING)
    assert bedrock["dns"] == {"name": "mc.example.com", "state": "failing", "last_ok": None,
                              "error": "限流 <rate limited>"}


async def test_metrics_are_prometheus_text_with_the_spec_series() -> None:
    registry = two_services()
    registry.add_service("site", type="web", proto="tcp", mode="forward", local="0.0.0.0:8443",
                         remote="127.0.0.1:443", dns_name=None)
    async with running_server(registry) as server:
        reply = await get(server.port, "/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    samples = {(s.name, s.labels["service"]): s.value
               for family in text_string_to_metric_families(reply.text) for s in family.samples}
    assert samples[("nat1_up", "java")] == 1 and samples[("nat1_up", "site")] == 0
    assert samples[("nat1_mapping_port", "java")] == 40123
    assert samples[("nat1_mapping_port", "bedrock")] == 41999
    assert ("nat1_mapping_port", "site") not in samples
    assert samples[("nat1_remaps_total", "java")] == 1 and samples[("nat1_remaps_total", "bedrock")] == 0
    assert samples[("nat1_reachable", "java")] == 1
    assert ("nat1_reachable", "bedrock") not in samples  # unknown: absent
    assert samples[("nat1_dns_ok", "java")] == 1 and samples[("nat1_dns_ok", "bedrock")] == 0
    assert ("nat1_dns_ok", "site") not in samples  # no_dns
    assert samples[("nat1_publish_failures_total", "bedrock")] == 1
    assert samples[("nat1_publish_failures_total", "java")] == 0
    assert "python_gc" not in reply.text and "process_" not in reply.text  # only our own series


class _Text(HTMLParser):
    """The text a reader sees without JavaScript (scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


async def test_page_shows_everything_without_javascript_and_loads_nothing_from_elsewhere() -> None:
    registry = two_services()
    registry.set_state("bedrock", "retrying", '<img src="http://evil.example/x.png">')
    async with running_server(registry) as server:
        reply = await get(server.port, "/")
    assert reply.status == 200 and reply.headers["content-type"] == "text/html; charset=utf-8"
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    parser = _Text()
    parser.feed(reply.text)
    text = " ".join(" ".join(parser.parts).split())
    for expected in ("java", "bedrock", JAVA_MAPPING, BEDROCK_MAPPING, "mc.example.com", "已映射", "重试中",
                     "公网可达", "可达性未知", "映射变化次数", "最近发布成功", "发布失败", "限流 <rate limited>",
                     '<img src="http://evil.example/x.png">', "复制", "24 小时前"):
        assert expected in text, expected
    # escaped: the injected tag is text, not an element
    assert not any(tag == "img" for tag, _ in parser.tags)
    copy_buttons = [attrs for tag, attrs in parser.tags if tag == "button"]
    assert [b.get("data-copy") for b in copy_buttons] == [JAVA_MAPPING, BEDROCK_MAPPING]
    # nothing external: no src at all, links only inside the page (the data: favicon aside)
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        href = attrs.get("href")
        assert href is None or href == "data:," or not re.match(r"(?i)[a-z]+:|//", href), href
    assert sum(1 for tag, _ in parser.tags if tag == "svg") == 2
    assert sum(1 for tag, attrs in parser.tags if tag == "line" and attrs.get("class") == "tick") == 1


async def test_head_404_405() -> None:
    async with running_server(two_services()) as server:
        head = await get(server.port, "/api/status", method="HEAD")
        full = await get(server.port, "/api/status")
        missing = await get(server.port, "/nope")
        post = await get(server.port, "/api/status", method="POST")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(full.body) > 0
    assert missing.status == 404
    assert post.status == 405 and post.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(("target", "headers", "expected"), [
    ("/api/status", {}, 401),
    ("/api/status", {"Authorization": "Bearer wrong-token-0123456789"}, 401),
    ("/api/status", {"Authorization": f"Basic {TOKEN}"}, 401),
    ("/api/status?token=wrong", {}, 401),
    ("/nope", {}, 401),  # the token comes first: no probing for paths
    ("/api/status", {"Authorization": f"Bearer {TOKEN}"}, 200),
    ("/metrics", {"authorization": f"bearer {TOKEN}"}, 200),
    (f"/?token={TOKEN}", {}, 200),
    (f"/api/status?x=1&token={TOKEN}", {}, 200),
])
async def test_token(target: str, headers: dict[str, str], expected: int) -> None:
    async with running_server(two_services(), TOKEN) as server:
        reply = await get(server.port, target, headers=headers)
    assert reply.status == expected
    assert TOKEN not in reply.text
    if expected == 401:
        assert reply.headers["www-authenticate"].startswith("Bearer")


async def test_token_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets([TOKEN])
    caplog.set_level(logging.DEBUG, logger="nat1_traversal")
    async with running_server(two_services(), TOKEN) as server:
        await get(server.port, f"/?token={TOKEN}")
        await get(server.port, "/", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert TOKEN not in caplog.text


async def test_request_line_and_header_caps() -> None:
    async with running_server(two_services()) as server:
        long_line = await get(server.port, "/" + "a" * (MAX_REQUEST_LINE + 10))
        big_header = await get(server.port, "/api/status", headers={"X-Big": "b" * (MAX_HEADER_BYTES + 10)})
        many = await get(server.port, "/api/status", headers={f"X-{i}": "v" * 200 for i in range(60)})
        garbage = await raw_request(server.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
        ok = await get(server.port, "/api/status")
    assert long_line.status == 414
    assert big_header.status == 431
    assert many.status == 431
    assert garbage.status == 400
    assert ok.status == 200  # the server lives on


async def test_slow_client_times_out_and_the_cap_refuses_more() -> None:
    async with running_server(two_services(), max_connections=1, read_timeout=0.5) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/status HTTP/1.1\r\n")  # and never the end of the head
        await writer.drain()
        await wait_until(lambda: server.open_connections == 1)
        refused = await get(server.port, "/api/status")
        timed_out = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
        after = await get(server.port, "/api/status")
    assert refused.status == 503
    assert timed_out.startswith(b"HTTP/1.1 408 ")
    assert after.status == 200


async def test_port_taken_warns_once_and_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = StatusServer(two_services(), Endpoint(LOOPBACK.ip, port))
        with caplog.at_level(logging.WARNING):
            assert await server.start() is False
        await server.aclose()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(port) in warnings[0].getMessage()
    assert not server.running


async def test_close_ends_open_connections_quickly() -> None:
    registry = two_services()
    server = StatusServer(registry, LOOPBACK)
    assert await server.start()
    port = server.port
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n")
    await writer.drain()
    await wait_until(lambda: server.open_connections == 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await server.aclose()
    assert loop.time() - began < 0.8
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_ipv6_loopback() -> None:
    import ipaddress

    server = StatusServer(two_services(), Endpoint(ipaddress.IPv6Address("::1"), 0))
    if not await server.start():
        pytest.skip("no IPv6 loopback here")
    try:
        reader, writer = await asyncio.open_connection("::1", server.port)
        writer.write(b"GET /api/status HTTP/1.1\r\nHost: [::1]\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    finally:
        await server.aclose()
    assert data.startswith(b"HTTP/1.1 200 ") and JAVA_MAPPING.encode() in data
