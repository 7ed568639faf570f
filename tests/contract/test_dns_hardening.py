"""Issue 15, DNS: every REST provider converges to one record per name and type, never reports a
write it did not read back, and turns the failures users met into readable errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nat1_traversal.dns.base import plan_records
from nat1_traversal.errors import ProviderAuthError, ProviderError, RateLimited, ZoneNotFound
from tests.support.dns.contract import (
    HTTP_KINDS,
    MAPPING,
    PAGED_KINDS,
    READABLE_KINDS,
    SRV_NAME,
    kinds,
    provider_for,
    publish_once,
)
from tests.support.dns.fake_cloudflare import FakeCloudflare, envelope_error
from tests.support.dns.fake_dnspod import FakeDnspod
from tests.support.dns.fake_dynv6 import invalid
from tests.support.dns.harness import Harness

PREFIX = "_minecraft._tcp."
# Providers that refuse to create a record identical to one they hold.
REFUSE_DUPLICATE_KINDS = ["cloudflare", "cloudflare-legacy", "tencentcloud", "alidns"]
# Providers whose rate-limit reply can say how long to wait (the Tencent SDK hides the headers).
RETRY_AFTER_KINDS = ["cloudflare", "dynv6", "webhook", "alidns"]


async def sync_error(harness: Harness) -> ProviderError:
    settings = harness.settings()
    provider = provider_for(settings)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.sync(plan_records(settings, PREFIX, MAPPING))
    finally:
        await provider.aclose()
    return caught.value


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_two_stale_records_become_one(harness: Harness) -> None:
    harness.seed("mc", "A", "198.51.100.1")
    harness.seed("mc", "A", "198.51.100.2")
    harness.seed(SRV_NAME, "SRV", "10 0 1111 mc.example.com")
    harness.seed(SRV_NAME, "SRV", "10 0 2222 mc.example.com")
    await publish_once(harness)
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]


@pytest.mark.asyncio
@kinds(READABLE_KINDS)
async def test_a_matching_record_beside_a_stale_one(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    harness.seed("mc", "A", "203.0.113.7", ttl=harness.settings().ttl or 600)
    harness.seed("mc", "A", "198.51.100.1")
    await publish_once(harness, settings=harness.settings(ttl=None))
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert "无需更新" not in caplog.text and "DDNS更新成功" in caplog.text


@pytest.mark.asyncio
@kinds(PAGED_KINDS)
async def test_a_write_that_did_not_happen_is_never_success(harness: Harness,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    harness.fake.drop_writes = True  # every write answers "done" and changes nothing
    with pytest.raises(ProviderError):
        await publish_once(harness)
    assert "DDNS更新成功" not in caplog.text
    assert harness.values("mc", "A") == []


@pytest.mark.asyncio
@kinds(["tencentcloud"])
async def test_tencent_error_with_a_charset_content_type(harness: Harness,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fake = harness.fake
    assert isinstance(fake, FakeDnspod)
    fake.error_content_type = "application/json; charset=UTF-8"
    fake.forbidden = True
    with pytest.raises(ProviderAuthError) as caught:
        await publish_once(harness)
    assert "AuthFailure.UnauthorizedOperation" in str(caught.value)
    assert "DDNS更新成功" not in caplog.text
    fake.forbidden = False
    await publish_once(harness)  # the empty-list error (NoDataOfRecord) is recognised too
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]


@pytest.mark.asyncio
@kinds(REFUSE_DUPLICATE_KINDS)
async def test_record_already_exists_is_settled_by_a_wider_listing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    harness.seed("mc", "A", "203.0.113.7")
    harness.seed(SRV_NAME, "SRV", "10 0 34567 mc.example.com")
    harness.fake.unindexed = {"mc.example.com", "_minecraft._tcp.mc.example.com"}
    await publish_once(harness, settings=harness.settings(ttl=None))
    assert "DDNS更新失败" not in caplog.text and "无需更新" in caplog.text
    assert harness.writes() == 0
    assert harness.values("mc", "A") == ["203.0.113.7"]
    assert harness.values(SRV_NAME, "SRV") == ["10 0 34567 mc.example.com"]


@pytest.mark.asyncio
@kinds(HTTP_KINDS)
async def test_a_repeated_failure_is_warned_once(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    harness.fake.inject_rate_limit()
    harness.fake.inject_rate_limit()
    await publish_once(harness)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "DDNS更新失败" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


@pytest.mark.asyncio
@kinds(RETRY_AFTER_KINDS)
async def test_rate_limit_carries_retry_after(harness: Harness) -> None:
    harness.fake.inject_rate_limit_after(5)
    error = await sync_error(harness)
    assert isinstance(error, RateLimited) and error.retry_after == 5.0


@pytest.mark.asyncio
@kinds(RETRY_AFTER_KINDS)
async def test_the_publisher_waits_as_long_as_asked(harness: Harness) -> None:
    # The retry policy under test waits 0.01-0.05 s; the provider asks for 1 s.
    harness.fake.inject_rate_limit_after(1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await publish_once(harness)
    assert loop.time() - started >= 0.95
    if harness.can_read:
        assert harness.values("mc", "A") == ["203.0.113.7"]
    else:
        assert len(harness.fake.requests) == 3  # the refused POST, then both records


@pytest.mark.asyncio
@kinds(HTTP_KINDS)
async def test_an_oversized_reply_is_refused(harness: Harness) -> None:
    harness.fake.inject_oversized(2 << 20)
    error = await sync_error(harness)
    assert "1024 KiB" in str(error)


@pytest.mark.asyncio
@kinds(["dynv6"])
async def test_dynv6_validation_errors_read_as_text(harness: Harness) -> None:
    harness.fake.inject(invalid("data", "is invalid"))
    text = str(await sync_error(harness))
    assert "HTTP 422 ValidationError: Validation failed (data is invalid)" in text
    assert "{" not in text and "'" not in text


@pytest.mark.asyncio
@kinds(["cloudflare"])
async def test_cloudflare_permission_wording(harness: Harness) -> None:
    fake = harness.fake
    assert isinstance(fake, FakeCloudflare)
    fake.forbidden_zone = True
    forbidden = str(await sync_error(harness))
    assert "Zone:DNS:Edit" in forbidden
    for other in ("腾讯", "阿里", "Tencent", "Alibaba", "QcloudDNSPodFullAccess", "AliyunDNSFullAccess"):
        assert other not in forbidden
    fake.forbidden_zone = False
    fake.inject(envelope_error(403, 9109, "Unauthorized to access requested resource"))
    error = await sync_error(harness)
    assert isinstance(error, ProviderAuthError) and "Zone:DNS:Edit" in str(error) and "请检查" in str(error)


@pytest.mark.asyncio
@kinds(["rfc2136"])
async def test_rfc2136_zone_not_served_says_server_not_account(harness: Harness) -> None:
    settings = harness.settings(domain="missing.example")
    provider = provider_for(settings)
    try:
        with pytest.raises(ZoneNotFound) as caught:
            await provider.sync(plan_records(settings, PREFIX, MAPPING))
    finally:
        await provider.aclose()
    text = str(caught.value)
    assert "missing.example" in text and "账户" not in text and "DNS 服务器" in text
