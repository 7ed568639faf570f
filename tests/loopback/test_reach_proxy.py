"""SPEC section 13, last bullet: STUN through a proxy is named, in ``-t`` and at daemon start.

Name resolution is faked through the product's own lookup seam (``net.set_name_lookup``,
the one the ``resolver`` key uses): a fake-IP proxy answers every name with 198.18.x.x.
Nothing is ever sent to those addresses; the STUN servers are fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
import pytest_asyncio

from nat1_traversal import net
from nat1_traversal.app import Service
from nat1_traversal.config import Config
from nat1_traversal.model import Endpoint, HostPort, IPAddress
from nat1_traversal.nat_type import run_nat_type_test
from nat1_traversal.reach.proxy import disagreeing, fake_ip_names
from tests.support.app_kit import FakePublisher, Fakes, fakes  # noqa: F401  (fixture)
from tests.support.keeper_fakes import FakeStunTcp, FakeStunUdp, MappedRule
from tests.support.keeper_kit import FAST, LO
from tests.support.util import free_port, hp, wait_until

FAKE = {"stun.example.test": "198.18.0.7", "keepalive.example.test": "198.19.255.1", "ok.example.test": "127.0.0.1"}


@pytest.fixture
def fake_dns() -> Iterator[list[str]]:
    """A fake-IP resolver installed in the product's lookup seam; records what was asked."""
    asked: list[str] = []

    async def lookup(host: str, family: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(FAKE[host])] if host in FAKE else []

    net.set_name_lookup(lookup)
    try:
        yield asked
    finally:
        net.set_name_lookup(None)


def ep(text: str) -> Endpoint:
    ip, port = text.rsplit(":", 1)
    return Endpoint(ipaddress.ip_address(ip), int(port))


def test_disagreement_needs_the_same_port_and_another_ip() -> None:
    assert disagreeing([ep("203.0.113.1:40000"), ep("198.51.100.9:40000")]) == (
        ep("203.0.113.1:40000"), ep("198.51.100.9:40000"),
    )  # fmt: skip
    assert disagreeing([ep("203.0.113.1:40000"), ep("203.0.113.1:40001")]) is None  # symmetric, not a proxy
    assert disagreeing([ep("203.0.113.1:40000"), ep("203.0.113.1:40000")]) is None
    assert disagreeing([ep("203.0.113.1:40000")]) is None


@pytest.mark.asyncio
async def test_fake_ip_names_are_found_once_each(fake_dns: list[str]) -> None:
    servers = [
        HostPort("stun.example.test", 3478), HostPort("STUN.example.test.", 3479), HostPort("127.0.0.1", 3478),
        HostPort("ok.example.test", 80), HostPort("keepalive.example.test", 80), HostPort("gone.example.test", 1),
    ]  # fmt: skip
    found = await fake_ip_names(servers)
    assert found == [("stun.example.test", "198.18.0.7"), ("keepalive.example.test", "198.19.255.1")]
    assert "127.0.0.1" not in fake_dns  # literals are never looked up
    assert fake_dns.count("stun.example.test") == 1


def proxy_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.endswith("proxy")]


class Stun:
    """Two STUN servers per protocol, at 127.0.0.1 and 127.0.0.2 (``-t`` compares servers
    at different IPs), each with its own rule (what it reports)."""

    def __init__(self) -> None:
        self.rules = [MappedRule() for _ in range(4)]  # tcp@.1, tcp@.2, udp@.1, udp@.2
        self.tcp: list[FakeStunTcp] = []
        self.udp: list[FakeStunUdp] = []

    def report(self, index: int, text: str) -> None:
        self.rules[index].outer = ep(text)

    def config(self, **fields: object) -> Config:
        base = Config(
            stun_tcp=tuple(hp(s.addr) for s in self.tcp), stun_udp=tuple(hp(s.addr) for s in self.udp),
            keepalive_tcp=(), reach=False,
        )  # fmt: skip
        return replace(base, **fields)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def stun() -> AsyncIterator[Stun]:
    servers = Stun()
    servers.tcp = [await FakeStunTcp(servers.rules[i]).start(f"127.0.0.{i + 1}") for i in range(2)]
    servers.udp = [await FakeStunUdp(servers.rules[2 + i]).start(f"127.0.0.{i + 1}") for i in range(2)]
    yield servers
    for tcp in servers.tcp:
        await tcp.close()
    for udp in servers.udp:
        udp.close()


@pytest.mark.asyncio
async def test_nat_type_test_names_fake_ip_servers(
    fake_dns: list[str], stun: Stun, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Last in the list: the fakes before it answer at once, so -t never sends anything to it.
    config = stun.config(stun_udp=(*stun.config().stun_udp, HostPort("stun.example.test", 3478)))
    assert await run_nat_type_test(config, None) == 0
    (warning,) = proxy_warnings(caplog)
    assert "stun.example.test → 198.18.0.7" in warning
    assert "198.18.0.0/15" in warning and "geosite:category-stun" in warning and "OpenClash" in warning
    assert "UDP:" in capsys.readouterr().out  # the test itself ran as usual


@pytest.mark.asyncio
async def test_nat_type_test_names_tcp_and_udp_exits_that_differ(stun: Stun, caplog: pytest.LogCaptureFixture) -> None:
    """Both mappings endpoint-independent, but TCP leaves through one public IP and UDP
    through another: one NAT never does that (RFC 4787 REQ-2), a proxy does."""
    for index in (0, 1):
        stun.report(index, "198.51.100.7:61001")
    for index in (2, 3):
        stun.report(index, "203.0.113.9:61002")
    await run_nat_type_test(stun.config(), None)
    (warning,) = proxy_warnings(caplog)
    assert "198.51.100.7:61001" in warning and "203.0.113.9:61002" in warning and "geosite:category-stun" in warning


@pytest.mark.asyncio
async def test_nat_type_test_names_servers_that_disagree_on_the_ip(
    stun: Stun, caplog: pytest.LogCaptureFixture
) -> None:
    stun.report(2, "198.51.100.7:61001")
    stun.report(3, "203.0.113.9:61001")  # same port, another IP
    for index in (0, 1):
        stun.report(index, "198.51.100.7:61001")
    await run_nat_type_test(stun.config(), None)
    (warning,) = proxy_warnings(caplog)
    assert "198.51.100.7:61001" in warning and "203.0.113.9:61001" in warning


@pytest.mark.asyncio
async def test_no_warning_for_a_plain_nat(stun: Stun, caplog: pytest.LogCaptureFixture) -> None:
    for index in range(4):
        stun.report(index, f"198.51.100.7:{61001 + index // 2}")
    await run_nat_type_test(stun.config(), None)
    assert proxy_warnings(caplog) == []


@pytest.mark.asyncio
async def test_daemon_start_names_fake_ip_servers(
    fakes: Fakes, fake_dns: list[str], caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    """A service whose lists name servers that resolve into 198.18.0.0/15 says so at start
    (only looked up: the service is stopped before the keeper could use them)."""
    base = fakes.config(type="tcp", local=Endpoint(LO, free_port()), remote=Endpoint(LO, 9))
    config = replace(  # the names come last: the fakes before them answer, so they are never used
        base, stun_tcp=(*base.stun_tcp, HostPort("stun.example.test", 3478)),
        keepalive_tcp=(*base.keepalive_tcp, HostPort("ok.example.test", 80)),
    )  # fmt: skip
    service = Service(config, timing=FAST, publisher=FakePublisher())
    await service.start()
    runner = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: service._proxy_task is not None)
        assert service._proxy_task is not None
        assert await asyncio.wait_for(service._proxy_task, 5) is True
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await service.aclose()
    (warning,) = proxy_warnings(caplog)
    assert "stun.example.test → 198.18.0.7" in warning and "ok.example.test" not in warning
