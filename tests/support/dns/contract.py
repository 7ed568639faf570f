"""What the provider contract suites share: the mapping under test and one-shot publishing."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.backoff import Backoff
from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns import create_provider
from nat1_traversal.dns.base import Provider
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.publish import Publisher
from tests.support.ci import require_root_tools
from tests.support.dns.harness import HTTP_HARNESSES, Harness, KnotHarness

OUTER = Endpoint(ipaddress.ip_address("203.0.113.7"), 34567)
INNER = Endpoint(ipaddress.ip_address("192.168.1.2"), 25565)
MAPPING = Mapping("tcp", INNER, OUTER)
SRV_NAME = "_minecraft._tcp.mc"
FAST = Backoff(first_delay=0.01, max_delay=0.05, jitter=0.0, max_attempts=4)


def provider_for(settings: DnsSettings, timeout: float = 5.0) -> Provider:
    return create_provider(settings, timeout=timeout)


def publisher_for(harness: Harness, settings: DnsSettings | None = None, timeout: float = 5.0) -> Publisher:
    settings = settings or harness.settings()
    return Publisher(Config(type="mcje", dns=settings), provider=provider_for(settings, timeout), retry=FAST)


async def publish_once(harness: Harness, mapping: Mapping = MAPPING, settings: DnsSettings | None = None) -> None:
    publisher = publisher_for(harness, settings)
    try:
        await publisher.publish(mapping)
    finally:
        await publisher.aclose()


ALL_KINDS = [*HTTP_HARNESSES, "rfc2136"]
# Providers whose records can be read back (a webhook is only told, SPEC section 5).
READABLE_KINDS = [kind for kind in ALL_KINDS if kind != "webhook"]
# Providers with pages (DNS answers whole RRsets) and with an HTTP layer to inject faults into.
PAGED_KINDS = [kind for kind in READABLE_KINDS if kind != "rfc2136"]
HTTP_KINDS = list(HTTP_HARNESSES)


def make_harness(kind: str) -> Harness:
    if kind == "rfc2136":
        require_root_tools("knotd", root=False)
        return KnotHarness()
    return HTTP_HARNESSES[kind]()


def kinds(selection: list[str]) -> pytest.MarkDecorator:
    """Parametrise the ``harness`` fixture (tests/contract/conftest.py) over ``selection``."""
    return pytest.mark.parametrize("harness", selection, indirect=True)
