"""DNS over HTTPS against a test DoH server on 127.0.0.1 (SPEC section 15): both protocols,
fake-IP answers refused, the system fallback with one WARNING, the timeout, the net.py seam."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from nat1_traversal import net
from nat1_traversal.model import HostPort
from nat1_traversal.resolver import DohClient, DohLookups
from tests.support.doh import Records, doh_responder
from tests.support.receivers import Reply, Request, receiver

RECORDS: Records = {
    ("stun.example.test.", "A"): ["127.0.0.1"],
    ("alias.example.test.", "CNAME"): ["stun.example.test."],
    ("v6.example.test.", "AAAA"): ["::1"],
    ("localhost.", "A"): ["198.18.0.7"],  # what a fake-IP DNS says
    ("mixed.example.test.", "A"): ["198.18.3.4", "127.0.0.2"],
}


@pytest.fixture(autouse=True)
def _system_lookup() -> Iterator[None]:
    yield
    net.set_name_lookup(None)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/resolve", "/dns-query"])
async def test_addresses_over_both_protocols(path: str) -> None:
    with receiver(doh_responder(RECORDS)) as doh:
        lookups = DohLookups(DohClient(f"http://127.0.0.1:{doh.port}{path}"))
        assert await lookups.addresses("stun.example.test", socket.AF_INET) == [ipaddress.ip_address("127.0.0.1")]
        assert await lookups.addresses("alias.example.test", socket.AF_INET) == [ipaddress.ip_address("127.0.0.1")]
        assert await lookups.addresses("v6.example.test", socket.AF_INET6) == [ipaddress.ip_address("::1")]
        assert await lookups.addresses("v6.example.test", socket.AF_INET) == []  # no A: an answer, no fallback
        assert await lookups.addresses("nowhere.example.test", socket.AF_INET) == []  # NXDOMAIN: likewise
    assert len(doh.requests) == 5
    wire = path == "/dns-query"
    assert all(("dns=" in r.path) == wire and ("name=" in r.path) != wire for r in doh.requests)
    accept = "application/dns-message" if wire else "application/dns-json"
    assert all(r.headers.get("accept") == accept for r in doh.requests)


@pytest.mark.asyncio
async def test_fake_ip_answers_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    with receiver(doh_responder(RECORDS)) as doh, caplog.at_level(logging.WARNING):
        lookups = DohLookups(DohClient(f"http://127.0.0.1:{doh.port}/resolve"))
        assert await lookups.addresses("mixed.example.test", socket.AF_INET) == [ipaddress.ip_address("127.0.0.2")]
        # Only a fake IP: not used; the system resolver is asked instead (localhost: /etc/hosts).
        found = await lookups.addresses("localhost", socket.AF_INET)
    assert found and all(ip.is_loopback for ip in found)
    text = caplog.text
    assert "198.18.3.4" in text and "198.18.0.7" in text and "fake-IP" in text
    assert "改用系统解析" in text


@pytest.mark.asyncio
async def test_a_failing_server_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with receiver(doh_responder(RECORDS, fail_first=3)) as doh, caplog.at_level(logging.DEBUG):
        lookups = DohLookups(DohClient(f"http://127.0.0.1:{doh.port}/dns-query"))
        for _ in range(3):
            found = await lookups.addresses("localhost", socket.AF_INET)
            assert found and all(ip.is_loopback for ip in found)
        assert await lookups.addresses("stun.example.test", socket.AF_INET) == [ipaddress.ip_address("127.0.0.1")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "localhost" in warnings[0] and "HTTP 500" in warnings[0]


@pytest.mark.asyncio
async def test_a_silent_server_times_out_then_falls_back() -> None:
    def slow(request: Request, number: int) -> Reply:
        time.sleep(2)
        return Reply(200, b"{}")

    with receiver(slow) as doh:
        lookups = DohLookups(DohClient(f"http://127.0.0.1:{doh.port}/resolve", timeout=0.3))
        started = time.monotonic()
        found = await lookups.addresses("localhost", socket.AF_INET)
        elapsed = time.monotonic() - started
    assert found and elapsed < 1.5


@pytest.mark.asyncio
async def test_net_resolve_uses_the_installed_lookup() -> None:
    with receiver(doh_responder(RECORDS)) as doh:
        lookups = DohLookups(DohClient(f"http://127.0.0.1:{doh.port}/resolve"))
        net.set_name_lookup(lookups.addresses)
        assert await net.resolve(HostPort("stun.example.test", 3478), "udp") == ("127.0.0.1", 3478)
        assert await net.resolve(HostPort("v6.example.test", 3478), "tcp", socket.AF_INET6) == ("::1", 3478)
        assert await net.resolve_dual_stack(HostPort("stun.example.test", 80), "tcp") == ("::ffff:127.0.0.1", 80)
        assert await net.resolve(HostPort("127.0.0.9", 1), "udp") == ("127.0.0.9", 1)  # literals never asked
        count = len(doh.requests)
        net.set_name_lookup(None)
        assert await net.resolve(HostPort("localhost", 1), "udp") == ("127.0.0.1", 1)
        assert len(doh.requests) == count
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_reach_checker_names_use_the_installed_lookup() -> None:
    from nat1_traversal.reach.http import http_get
    from tests.support.receivers import Reply as HttpReply

    with receiver(doh_responder({("checker.example.test.", "A"): ["127.0.0.1"]})) as doh, \
            receiver(lambda request, number: HttpReply(200, b"1", {"Content-Type": "text/plain"})) as checker:
        net.set_name_lookup(DohLookups(DohClient(f"http://127.0.0.1:{doh.port}/resolve")).addresses)
        answer = await http_get(f"http://checker.example.test:{checker.port}/check?ip=203.0.113.7", timeout=5)
        assert (answer.status, answer.body, answer.peer) == (200, b"1", "127.0.0.1")
        asked = len(doh.requests)
        literal = await http_get(f"http://127.0.0.1:{checker.port}/check", timeout=5)
        assert literal.status == 200 and len(doh.requests) == asked  # an IP literal is never looked up
    assert asked >= 1 and "checker.example.test" in doh.requests[0].path
