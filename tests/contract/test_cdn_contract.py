"""The CDN-origin contract (SPEC section 15): EdgeOne, EdgeOne intl and ESA against fakes that
check the vendors' signatures. Compare before writing; missing targets and bad credentials are
clear errors; no secret in any log line."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator

import pytest

from nat1_traversal.backoff import Backoff
from nat1_traversal.config import Config
from nat1_traversal.dns import create_provider
from nat1_traversal.dns.base import plan_records
from nat1_traversal.errors import NetworkError, ProviderAuthError, ProviderError, RateLimited, ZoneNotFound
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.publish import Publisher
from tests.support.dns.cdn_harness import CDN_HARNESSES, CDN_SECRETS, FQDN, CdnHarness

INNER = Endpoint(ipaddress.ip_address("192.168.1.2"), 8443)
FAST = Backoff(first_delay=0.01, max_delay=0.05, jitter=0.0, max_attempts=1)
# First publish: EdgeOne changes one domain (one call); ESA a record and a rule (two calls).
FIRST_WRITES = {"edgeone": 1, "edgeone_intl": 1, "aliesa": 2}


def mapping(ip: str = "203.0.113.7", port: int = 34567) -> Mapping:
    return Mapping("tcp", INNER, Endpoint(ipaddress.ip_address(ip), port))


@pytest.fixture(params=sorted(CDN_HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[CdnHarness]:
    made = CDN_HARNESSES[request.param]()
    try:
        yield made
    finally:
        made.close()


async def publish(harness: CdnHarness, target: Mapping, **changes: object) -> None:
    settings = harness.settings(**changes)
    publisher = Publisher(Config(type="web", dns=settings), provider=create_provider(settings, timeout=5.0),
                          retry=FAST)
    try:
        await publisher.publish(target)
    finally:
        await publisher.aclose()


async def sync(harness: CdnHarness, target: Mapping, **changes: object) -> int:
    settings = harness.settings(**changes)
    provider = create_provider(settings, timeout=5.0)
    try:
        return await provider.sync(plan_records(settings, "_web._tcp.", target))
    finally:
        await provider.aclose()


@pytest.mark.asyncio
async def test_first_publish_sets_the_origin(harness: CdnHarness) -> None:
    await publish(harness, mapping())
    assert harness.origin() == ("203.0.113.7", 34567, 34567)
    assert harness.writes() == FIRST_WRITES[harness.kind]
    assert harness.signatures_checked() >= 3


@pytest.mark.asyncio
async def test_an_unchanged_mapping_makes_zero_writes(harness: CdnHarness) -> None:
    await publish(harness, mapping())
    before = harness.writes()
    assert await sync(harness, mapping()) == 0
    await publish(harness, mapping())
    assert harness.writes() == before


@pytest.mark.asyncio
async def test_only_what_changed_is_written(harness: CdnHarness) -> None:
    await publish(harness, mapping())
    before = harness.writes()
    assert await sync(harness, mapping(port=40001)) == 1
    assert harness.origin() == ("203.0.113.7", 40001, 40001)
    assert await sync(harness, mapping(ip="198.51.100.9", port=40001)) == 1
    assert harness.origin() == ("198.51.100.9", 40001, 40001)
    assert harness.writes() == before + 2


@pytest.mark.asyncio
async def test_the_target_must_exist(harness: CdnHarness) -> None:
    harness.remove_target()
    with pytest.raises(ZoneNotFound) as info:
        await sync(harness, mapping())
    text = info.value.render()
    assert ("www" in text) and ("控制台" in text)
    assert harness.writes() == 0


@pytest.mark.asyncio
async def test_an_unknown_site_is_zone_not_found(harness: CdnHarness) -> None:
    with pytest.raises(ZoneNotFound) as info:
        await sync(harness, mapping(), domain="other.example")
    assert "other.example" in info.value.render()


@pytest.mark.asyncio
async def test_bad_credentials(harness: CdnHarness) -> None:
    settings = harness.bad_auth()
    provider = create_provider(settings, timeout=5.0)
    try:
        with pytest.raises(ProviderAuthError):
            await provider.sync(plan_records(settings, "_web._tcp.", mapping()))
    finally:
        await provider.aclose()
    assert harness.writes() == 0


@pytest.mark.asyncio
async def test_forbidden_names_the_permission(harness: CdnHarness) -> None:
    harness.fake.forbidden = True  # type: ignore[attr-defined]  # every CDN fake has the switch
    with pytest.raises(ProviderAuthError) as info:
        await sync(harness, mapping())
    permission = "AliyunESAFullAccess" if harness.kind == "aliesa" else "QcloudTEOFullAccess"
    assert permission in info.value.render()


@pytest.mark.asyncio
async def test_rate_limit_is_its_own_error(harness: CdnHarness) -> None:
    harness.fake.inject_rate_limit()
    with pytest.raises(RateLimited):
        await sync(harness, mapping())


@pytest.mark.asyncio
async def test_a_proxy_error_page_is_a_retried_error(harness: CdnHarness) -> None:
    harness.fake.inject_bad_gateway()
    with pytest.raises((ProviderError, NetworkError)):  # both are what the publisher retries
        await sync(harness, mapping())


@pytest.mark.asyncio
async def test_no_secret_in_debug_logs(harness: CdnHarness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await publish(harness, mapping())
        await publish(harness, mapping(port=40002))
    assert CDN_SECRETS[harness.kind] not in caplog.text
    assert FQDN in caplog.text or harness.writes() >= 1
