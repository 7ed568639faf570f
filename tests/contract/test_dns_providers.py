"""Provider-specific behaviour beyond the contract: signatures, hints, webhook bodies, TSIG, registry."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns import create_provider, validate_settings
from nat1_traversal.dns.base import plan_records
from nat1_traversal.dns.rfc2136 import redacted_key
from nat1_traversal.errors import ProviderAuthError, ProviderUnavailable
from nat1_traversal.model import Endpoint, Mapping, Secret
from tests.support.ci import require_root_tools
from tests.support.dns.contract import MAPPING, publish_once
from tests.support.dns.harness import (
    SECRETS,
    AliDnsHarness,
    CloudflareHarness,
    DnspodHarness,
    KnotHarness,
    WebhookHarness,
)

PREFIX = "_minecraft._tcp."


@pytest.fixture
def dnspod() -> Iterator[DnspodHarness]:
    h = DnspodHarness()
    yield h
    h.close()


@pytest.fixture
def alidns() -> Iterator[AliDnsHarness]:
    h = AliDnsHarness()
    yield h
    h.close()


@pytest.fixture
def cloudflare() -> Iterator[CloudflareHarness]:
    h = CloudflareHarness()
    yield h
    h.close()


@pytest.fixture
def webhook() -> Iterator[WebhookHarness]:
    h = WebhookHarness()
    yield h
    h.close()


async def _sync_error(settings: DnsSettings) -> ProviderAuthError:
    provider = create_provider(settings, timeout=5)
    try:
        with pytest.raises(ProviderAuthError) as caught:
            await provider.sync(plan_records(settings, PREFIX, MAPPING))
    finally:
        await provider.aclose()
    return caught.value


@pytest.mark.asyncio
async def test_dnspod_signature_is_verified(dnspod: DnspodHarness) -> None:
    await publish_once(dnspod)
    assert dnspod.fake.signatures_checked >= 3
    error = await _sync_error(dnspod.bad_auth())
    assert "AuthFailure.SignatureFailure" in str(error)
    error = await _sync_error(dnspod.settings(id="AKIDunknown"))
    assert "AuthFailure.SecretIdNotFound" in str(error)


@pytest.mark.asyncio
async def test_dnspod_permission_hint(dnspod: DnspodHarness) -> None:
    dnspod.fake.forbidden = True
    error = await _sync_error(dnspod.settings())
    assert error.hint == "dns.hint.permission" and "QcloudDNSPodFullAccess" in str(error)


@pytest.mark.asyncio
async def test_dnspod_srv_value_format(dnspod: DnspodHarness) -> None:
    await publish_once(dnspod)
    creates = [json.loads(r.body) for r in dnspod.fake.requests if r.headers.get("x-tc-action") == "CreateRecord"]
    srv = next(c for c in creates if c["RecordType"] == "SRV")
    assert srv["Value"] == "10 0 34567 mc.example.com." and srv["RecordLine"] == "默认"
    assert srv["SubDomain"] == "_minecraft._tcp.mc"


@pytest.mark.asyncio
async def test_alidns_signature_is_verified(alidns: AliDnsHarness) -> None:
    await publish_once(alidns)
    assert alidns.fake.signatures_checked >= 3
    error = await _sync_error(alidns.bad_auth())
    assert "SignatureDoesNotMatch" in str(error)
    error = await _sync_error(alidns.settings(id="LTAIunknown"))
    assert "InvalidAccessKeyId.NotFound" in str(error)


@pytest.mark.asyncio
async def test_alidns_never_sends_a_noop_update(alidns: AliDnsHarness) -> None:
    alidns.seed("mc", "A", "203.0.113.7", ttl=600)
    alidns.seed("_minecraft._tcp.mc", "SRV", "10 0 34567 mc.example.com", ttl=600)
    await publish_once(alidns, settings=alidns.settings(ttl=600))
    assert alidns.fake.writes == 0 and alidns.fake.noop_updates == 0
    await publish_once(alidns, settings=alidns.settings(ttl=900))  # TTL differs: a real update
    assert alidns.fake.writes == 2 and alidns.fake.noop_updates == 0


@pytest.mark.asyncio
async def test_alidns_permission_hint(alidns: AliDnsHarness) -> None:
    alidns.fake.forbidden = True
    error = await _sync_error(alidns.settings())
    assert "Forbidden.RAM" in str(error) and "AliyunDNSFullAccess" in str(error)


@pytest.mark.asyncio
async def test_cloudflare_token_without_zone_permission(cloudflare: CloudflareHarness) -> None:
    cloudflare.fake.forbidden_zone = True
    error = await _sync_error(cloudflare.settings())
    assert error.hint == "dns.hint.permission" and "Zone:DNS:Edit" in str(error)


@pytest.mark.asyncio
async def test_cloudflare_sends_unproxied_records_and_srv_data(cloudflare: CloudflareHarness) -> None:
    await publish_once(cloudflare, settings=cloudflare.settings(ttl=120))
    posts = [json.loads(r.body) for r in cloudflare.fake.requests if r.method == "POST"]
    a = next(p for p in posts if p["type"] == "A")
    srv = next(p for p in posts if p["type"] == "SRV")
    assert a == {"type": "A", "name": "mc.example.com", "ttl": 120, "content": "203.0.113.7", "proxied": False}
    assert srv["data"] == {"priority": 10, "weight": 0, "port": 34567, "target": "mc.example.com"}
    gets = [r for r in cloudflare.fake.requests if r.method == "GET" and r.path.endswith("/zones")]
    assert gets and all(r.query.get("name") == "example.com" for r in gets)


@pytest.mark.asyncio
async def test_cloudflare_legacy_headers() -> None:
    h = CloudflareHarness(legacy=True)
    try:
        await publish_once(h)
        assert h.fake.requests[0].headers["x-auth-email"] == "admin@example.com"
        assert "authorization" not in h.fake.requests[0].headers
    finally:
        h.close()


@pytest.mark.asyncio
async def test_webhook_bodies_byte_for_byte(webhook: WebhookHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    await publish_once(webhook)
    assert webhook.fake.bodies == [
        b'{"name": "mc", "data": "203.0.113.7", "type": "A", "domain": "example.com"}',
        b'{"name": "_minecraft._tcp.mc", "data": "mc", "type": "SRV", "domain": "example.com", '
        b'"priority": 10, "weight": 0, "port": 34567}',
    ]
    assert all(r.headers["authorization"] == f"Bearer {SECRETS['webhook']}" for r in webhook.fake.requests)
    assert all(r.headers["content-type"] == "application/json" for r in webhook.fake.requests)
    # A plain http:// URL with a token: warned once per provider, whatever the number of mappings.
    provider = create_provider(webhook.settings())
    try:
        await provider.sync(plan_records(webhook.settings(), PREFIX, MAPPING))
        await provider.sync(plan_records(webhook.settings(), PREFIX, MAPPING))
    finally:
        await provider.aclose()
    warnings = [r for r in caplog.records if "明文" in r.getMessage()]
    assert len(warnings) == 2  # one from publish_once's provider, one from this provider
    assert SECRETS["webhook"] not in caplog.text


@pytest.mark.asyncio
async def test_webhook_without_token() -> None:
    h = WebhookHarness()
    h.fake.token = None
    try:
        await publish_once(h, settings=h.settings(token=None))
        assert len(h.fake.bodies) == 2
        assert all("authorization" not in r.headers for r in h.fake.requests)
    finally:
        h.close()


@pytest.fixture
def knot() -> Iterator[KnotHarness]:
    require_root_tools("knotd", root=False)
    h = KnotHarness()
    yield h
    h.close()


@pytest.mark.asyncio
async def test_rfc2136_one_update_and_real_answers(knot: KnotHarness) -> None:
    await publish_once(knot)
    assert knot.writes() == 1
    if __import__("shutil").which("kdig"):
        kdig = await asyncio.create_subprocess_exec(
            "kdig", "@127.0.0.1", "-p", str(knot.port), "+short", "SRV", "_minecraft._tcp.mc.example.com",
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await asyncio.wait_for(kdig.communicate(), 10)
        assert stdout.decode().strip() == "10 0 34567 mc.example.com."
    moved = Mapping("tcp", MAPPING.inner, Endpoint(ipaddress.ip_address("203.0.113.8"), 34567))
    await publish_once(knot, moved)  # only the A RRset differs
    assert knot.writes() == 2
    assert knot.values("mc", "A") == ["203.0.113.8"]


@pytest.mark.asyncio
async def test_rfc2136_wrong_key_is_explained(knot: KnotHarness) -> None:
    error = await _sync_error(knot.bad_auth())
    assert "TSIG" in str(error) and "nat1key" in str(error)
    error = await _sync_error(knot.settings(id="otherkey."))
    assert "TSIG" in str(error)


def test_tsig_key_repr_hides_secret() -> None:

    secret = base64.b64encode(b"very-secret-bytes-here").decode()
    key = redacted_key("k.", secret, "hmac-sha256")
    assert secret not in repr(key) and secret not in str(key)


def test_validate_settings_reports_everything() -> None:
    problems = validate_settings(DnsSettings(kind="cloudflare", token=None, domain=None, sub_domain=None, ttl=30))
    text = "\n".join(problems)
    assert "token 不能为空" in text and "domain" in text and "sub_domain" in text and "ttl" in text
    assert validate_settings(DnsSettings()) == []
    assert validate_settings(DnsSettings(kind="cloudflare", token=Secret("t"), domain="example.com",
                                         sub_domain="mc")) == []
    hook = validate_settings(DnsSettings(kind="webhook", id="ftp://x", domain="example.com", sub_domain="mc"))
    assert any("http" in p for p in hook)
    rfc = validate_settings(DnsSettings(kind="rfc2136", id="k.", token=Secret("not base64!"),
                                        domain="example.com", sub_domain="mc", tsig_algorithm="md4"))
    assert len(rfc) == 3  # endpoint, secret, algorithm


def test_validate_settings_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "from nat1_traversal.config import DnsSettings\n"
        "from nat1_traversal.dns import validate_settings\n"
        "validate_settings(DnsSettings(kind='tencentcloud'))\n"
        "validate_settings(DnsSettings(kind='alidns'))\n"
        "sdks = ('tencentcloud', 'alibabacloud_alidns20150109', 'requests')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in sdks]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(("kind", "blocked", "package"), [
    ("tencentcloud", "tencentcloud", "tencentcloud-sdk-python-dnspod"),
    ("alidns", "alibabacloud_alidns20150109", "alibabacloud_alidns20150109"),
])
def test_missing_sdk(monkeypatch: pytest.MonkeyPatch, kind: str, blocked: str, package: str) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] == blocked or name == f"nat1_traversal.dns.{kind}":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(ProviderUnavailable) as caught:
        create_provider(DnsSettings(kind=kind, id="x", token=Secret("y"), domain="example.com", sub_domain="mc"))
    assert f"pip install {package}" in str(caught.value)
