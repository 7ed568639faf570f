"""RFC 2136 keys (issue 15): hmac-md5 works against a real Knot, and a PowerDNS-style unsigned
refusal of the key reads as a rejected key, not as a parse error."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from nat1_traversal.config import DnsSettings
from nat1_traversal.config_load import parse_config
from nat1_traversal.dns.base import plan_records
from nat1_traversal.dns.rfc2136 import algorithm_name, redacted_key
from nat1_traversal.errors import ProviderAuthError
from nat1_traversal.i18n import set_language
from nat1_traversal.model import Secret
from tests.support.ci import require_root_tools
from tests.support.dns.contract import MAPPING, provider_for, publish_once
from tests.support.dns.fake_pdns import UnsignedRefuser
from tests.support.dns.harness import SECRETS, KnotHarness

PREFIX = "_minecraft._tcp."


@pytest.fixture
def knot_md5() -> Iterator[KnotHarness]:
    require_root_tools("knotd", root=False)
    h = KnotHarness(algorithm="hmac-md5")
    yield h
    h.close()


@pytest.mark.asyncio
async def test_hmac_md5_publishes(knot_md5: KnotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await publish_once(knot_md5)
    assert knot_md5.values("mc", "A") == ["203.0.113.7"]
    assert "DDNS更新成功" in caplog.text and "KeyError" not in caplog.text


def test_hmac_md5_spellings() -> None:
    import dns.tsig

    for spelling in ("hmac-md5", "HMAC-MD5", "hmac-md5.sig-alg.reg.int.", "HMAC-MD5.SIG-ALG.REG.INT"):
        assert algorithm_name(spelling) == "HMAC-MD5.SIG-ALG.REG.INT."
        assert redacted_key("k.", SECRETS["rfc2136"], spelling).algorithm == dns.tsig.HMAC_MD5
    base = {"dns": "rfc2136", "id": "k.", "token": SECRETS["rfc2136"], "domain": "example.com",
            "sub_domain": "mc", "endpoint": "127.0.0.1:53"}
    for spelling in ("hmac-md5", "HMAC-MD5.SIG-ALG.REG.INT."):
        config, _ = parse_config({**base, "tsig_algorithm": spelling})
        assert algorithm_name(config.dns.tsig_algorithm) == "HMAC-MD5.SIG-ALG.REG.INT."


@pytest.mark.asyncio
async def test_unsigned_refusal_is_a_rejected_key() -> None:
    async with UnsignedRefuser() as server:
        settings = DnsSettings(kind="rfc2136", id="nat1key.", token=Secret(SECRETS["rfc2136"]),
                               domain="example.com", sub_domain="mc", endpoint=server.endpoint)
        provider = provider_for(settings)
        try:
            with pytest.raises(ProviderAuthError) as caught:
                await provider.sync(plan_records(settings, PREFIX, MAPPING))
            assert server.updates == 1
            text = str(caught.value)
            assert "密钥被拒绝" in text and "nat1key" in text and "FormError" not in text
            set_language("en")
            assert "key rejected (wrong id/token/algorithm?" in str(caught.value)
        finally:
            await provider.aclose()
