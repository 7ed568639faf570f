"""Harnesses of the CDN-origin providers (SPEC section 15) for the CDN contract suite.

Each one starts its signature-checking fake, seeds the site with the acceleration
domain / record / origin rule that the user must have created, and reads the
origin back as ``(ip, http_port, https_port)``.
"""

from __future__ import annotations

from dataclasses import replace

from nat1_traversal.config import DnsSettings
from nat1_traversal.model import Secret
from tests.support.dns.fake_esa import EsaRecord, EsaRule, FakeEsa
from tests.support.dns.fake_teo import AccelerationDomain, FakeTeo
from tests.support.dns.server import FakeApi

ZONE = "example.com"
SUB = "www"
FQDN = f"{SUB}.{ZONE}"
CDN_SECRETS = {
    "edgeone": "teo-SECRETKEY-5ecret-7a7a7a",
    "edgeone_intl": "teo-intl-SECRETKEY-5ecret-8b8b",
    "aliesa": "esa-SECRET-5ecret-9c9c9c",
}


class CdnHarness:
    kind = ""
    fake: FakeApi
    endpoint: str
    secret_id = ""

    def settings(self, **changes: object) -> DnsSettings:
        base = DnsSettings(kind=self.kind, id=self.secret_id, token=Secret(CDN_SECRETS[self.kind]), domain=ZONE,
                           sub_domain=SUB, endpoint=self.endpoint)
        return replace(base, **changes)  # type: ignore[arg-type]

    def bad_auth(self) -> DnsSettings:
        return self.settings(token=Secret("wrong-secret-0000"))

    def origin(self) -> tuple[str, int, int]:
        raise NotImplementedError

    def remove_target(self) -> None:
        """Delete what the user must create first (the domain, record or rule)."""
        raise NotImplementedError

    def writes(self) -> int:
        return self.fake.writes

    def signatures_checked(self) -> int:
        return int(getattr(self.fake, "signatures_checked", 0))

    def close(self) -> None:
        self.fake.stop()


class EdgeOneHarness(CdnHarness):
    kind = "edgeone"
    secret_id = "AKIDnat1teotest"

    def __init__(self) -> None:
        self.fake = self.teo = FakeTeo(ZONE, self.secret_id, CDN_SECRETS[self.kind])
        self.teo.domains[FQDN] = AccelerationDomain(FQDN)
        self.endpoint = self.fake.start()

    def origin(self) -> tuple[str, int, int]:
        domain = self.teo.domains[FQDN]
        return domain.origin, domain.http_port, domain.https_port

    def remove_target(self) -> None:
        self.teo.domains.clear()


class EdgeOneIntlHarness(EdgeOneHarness):
    kind = "edgeone_intl"


class AliEsaHarness(CdnHarness):
    kind = "aliesa"
    secret_id = "LTAInat1esatest"

    def __init__(self) -> None:
        self.fake = self.esa = FakeEsa(ZONE, self.secret_id, CDN_SECRETS[self.kind])
        self.esa.records[FQDN] = EsaRecord(3900001, FQDN, "192.0.2.1")
        self.esa.rules[SUB] = EsaRule(3528160969, SUB)
        self.endpoint = self.fake.start()

    def origin(self) -> tuple[str, int, int]:
        record, rule = self.esa.records[FQDN], self.esa.rules[SUB]
        return record.value, int(rule.http_port), int(rule.https_port)

    def remove_target(self) -> None:
        self.esa.rules.clear()


CDN_HARNESSES: dict[str, type[CdnHarness]] = {
    "edgeone": EdgeOneHarness, "edgeone_intl": EdgeOneIntlHarness, "aliesa": AliEsaHarness,
}
