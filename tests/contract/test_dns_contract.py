"""The provider contract: every DNS provider passes the same suite against its fake (or real Knot)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

import pytest

from nat1_traversal.dns.base import plan_records
from nat1_traversal.errors import NetTimeout, ProviderAuthError, ZoneNotFound
from nat1_traversal.model import Endpoint, Mapping
from tests.support.dns.contract import (
    ALL_KINDS,
    HTTP_KINDS,
    INNER,
    MAPPING,
    PAGED_KINDS,
    READABLE_KINDS,
    SRV_NAME,
    kinds,
    provider_for,
    publish_once,
)
from tests.support.dns.harness import SECRETS, Harness


def expected_writes(harness: Harness, records: int) -> int:
    # RFC 2136 replaces every differing RRset in ONE update message.
    return 1 if harness.kind == "rfc2136" else records


@pytest.mark.asyncio
@kinds(ALL_KINDS)
async def test_create(harness: Harness) -> None:
    await publish_once(harness)
    assert harness.writes() == expected_writes(harness, 2)
    if harness.can_read:
        assert harness.values("mc", "A") == ["203.0.113.7"]
        assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_update_in_place(harness: Harness) -> None:
    harness.seed("mc", "A", "198.51.100.1")
    harness.seed(SRV_NAME, "SRV", "10 0 1111 mc.example.com")
    before = len(harness.snapshot())
    await publish_once(harness)
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]
    assert len(harness.snapshot()) == before, "updated in place, no duplicates"
    assert harness.writes() == expected_writes(harness, 2)


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_only_the_differing_record_is_written(harness: Harness) -> None:
    harness.seed("mc", "A", "203.0.113.7", ttl=harness.settings().ttl or 600)
    await publish_once(harness, settings=harness.settings(ttl=None))
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.writes() == 1


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_unchanged_mapping_writes_nothing_even_after_restart(harness: Harness) -> None:
    await publish_once(harness)
    first = harness.writes()
    await publish_once(harness)  # a new provider instance: nothing cached
    assert harness.writes() == first


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_other_records_untouched(harness: Harness) -> None:
    harness.seed("www", "A", "198.51.100.9")
    harness.seed("mc2", "A", "198.51.100.10")
    harness.seed("_minecraft._tcp.other", "SRV", "10 0 25565 other.example.com")
    before = set(harness.snapshot())
    await publish_once(harness, MAPPING)
    await publish_once(harness, Mapping("tcp", INNER, Endpoint(ipaddress.ip_address("203.0.113.8"), 40000)))
    after = set(harness.snapshot())
    assert before <= after
    assert harness.values("www", "A") == ["198.51.100.9"]
    assert harness.values("mc", "A") == ["203.0.113.8"]


@pytest.mark.asyncio
@kinds(PAGED_KINDS)
async def test_match_found_on_page_two(harness: Harness) -> None:
    # Page 1 holds a stale duplicate; the record that already matches is on page 2.
    harness.seed("mc", "A", "198.51.100.1")
    harness.seed("mc", "A", "203.0.113.7")
    harness.seed(SRV_NAME, "SRV", "10 0 1 stale.example.com")
    harness.seed(SRV_NAME, "SRV", "10 0 34567 mc.example.com")
    harness.set_page_size(1)
    await publish_once(harness, settings=harness.settings(ttl=None))
    # The match is kept (no update, no create); the stale duplicates are deleted (issue 15).
    assert harness.writes() == 2
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]


@pytest.mark.asyncio
@kinds(ALL_KINDS)
async def test_wrong_credentials(harness: Harness) -> None:
    provider = provider_for(harness.bad_auth())
    records = plan_records(harness.settings(), "_minecraft._tcp.", MAPPING)
    try:
        with pytest.raises(ProviderAuthError) as caught:
            await provider.sync(records)
    finally:
        await provider.aclose()
    assert caught.value.hint is not None
    text = str(caught.value)
    assert "请检查" in text, text
    assert SECRETS[harness.kind] not in text
    assert harness.writes() == 0


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_zone_missing(harness: Harness) -> None:
    settings = harness.settings(domain="missing.example")
    provider = provider_for(settings)
    try:
        with pytest.raises(ZoneNotFound) as caught:
            await provider.sync(plan_records(settings, "_minecraft._tcp.", MAPPING))
    finally:
        await provider.aclose()
    assert "missing.example" in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", ["rate_limit", "bad_gateway"])
@kinds(HTTP_KINDS)
async def test_transient_failures_are_retried(harness: Harness, fault: str, caplog: pytest.LogCaptureFixture) -> None:
    getattr(harness.fake, f"inject_{fault}")()
    caplog.set_level(logging.INFO)
    await publish_once(harness)
    assert harness.writes() == expected_writes(harness, 2)
    assert "DDNS更新失败" in caplog.text and "DDNS更新成功 mc.example.com -> 203.0.113.7:34567" in caplog.text


@pytest.mark.asyncio
@kinds(ALL_KINDS)
async def test_timeout(harness: Harness) -> None:
    if harness.http:
        harness.fake.stall_seconds = 5.0
        settings = harness.settings()
        silent = None
    else:
        # A listening socket that never answers: TCP connects, the DNS answer never comes.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = harness.settings(endpoint=f"127.0.0.1:{silent.getsockname()[1]}")
    provider = provider_for(settings, timeout=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(NetTimeout):
            await provider.sync(plan_records(settings, "_minecraft._tcp.", MAPPING))
    finally:
        await provider.aclose()
        if silent is not None:
            silent.close()
    assert loop.time() - started < 4.5


@pytest.mark.asyncio
@kinds(ALL_KINDS)
async def test_no_secret_in_logs(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await publish_once(harness)
    provider = provider_for(harness.bad_auth())
    try:
        with pytest.raises(ProviderAuthError) as caught:
            # A different mapping, so that even providers that read first must try to write.
            moved = Mapping("tcp", INNER, Endpoint(ipaddress.ip_address("203.0.113.99"), 1))
            await provider.sync(plan_records(harness.settings(), "_minecraft._tcp.", moved))
    finally:
        await provider.aclose()
    logging.getLogger("test").error("%s %r %r", caught.value, caught.value, provider)
    text = caplog.text
    assert caplog.records, "DEBUG logging was captured"
    for secret in (SECRETS[harness.kind], "wrong"):
        assert secret not in text
    for marker in ("Authorization", "Signature=", "Bearer "):
        assert marker not in text
