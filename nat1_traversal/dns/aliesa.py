"""Alibaba Cloud ESA (Edge Security Acceleration, API 2024-09-10) as a CDN origin.

``id`` = AccessKeyId, ``token`` = AccessKeySecret; calls are RPC requests signed
with ACS3-HMAC-SHA256 (``dns/acs3.py``, on the bundled ``requests``: the ESA SDK's
dependencies have no pure wheels). ``domain`` is the ESA site; the site's record
``<sub_domain>.<domain>`` (A/AAAA) gets the mapped IP, and the origin rule named
``<sub_domain>`` gets the mapped port as its HTTP and HTTPS origin port. Both must
already exist. Calls: ListSites (SiteName), ListRecords (RecordName), UpdateRecord
(``Data`` = ``{"Value": ip}``), ListOriginRules (RuleName), UpdateOriginRule.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import HTTP_STATUSES, REQUEST_TIMEOUT, ErrorTable, Fault, Provider, Record
from nat1_traversal.dns.cdn import CDN_TYPES, Origin, port_of, wanted_origin
from nat1_traversal.dns.sdk import cap_replies, require
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import NetTimeout, NetworkError, ProviderError, ZoneNotFound

log = logging.getLogger(__name__)

VERSION = "2024-09-10"
DEFAULT_ENDPOINT = "https://esa.cn-hangzhou.aliyuncs.com"
ERRORS = ErrorTable(
    prefixes=(
        ("Throttling", Fault.RATE),
        *((code, Fault.AUTH) for code in
          ("InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeySecret")),
        ("Forbidden", Fault.FORBIDDEN),
        ("NoPermission", Fault.FORBIDDEN),
        ("SiteNotFound", Fault.ZONE),
        ("InvalidSiteId", Fault.ZONE),
    ),
    statuses=HTTP_STATUSES,
    permission="AliyunESAFullAccess",
)


@dataclass(frozen=True, slots=True)
class _State:
    record_id: str
    ip: str
    rule_id: str
    http_port: int
    https_port: int


class AliEsaProvider(Provider):
    label: ClassVar[str] = "阿里云 ESA"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        (requests,) = require("aliesa", "requests", "requests")
        self._requests: Any = requests
        self._session = requests.Session()
        cap_replies(self._session, self.label)
        self._endpoint = (settings.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._site_id: str | None = None

    @property
    def record_name(self) -> str:
        return self.settings.fqdn

    @property
    def rule_name(self) -> str:
        return (self.settings.sub_domain or "@").strip(".")

    async def _call(self, action: str, params: dict[str, object]) -> dict[str, Any]:
        from nat1_traversal.dns.acs3 import sign

        url, headers = sign(method="POST", url=self._endpoint + "/", action=action, version=VERSION, params=params,
                            access_key_id=self.settings.id or "",
                            access_key_secret=self.settings.token.reveal() if self.settings.token else "")

        def call() -> Any:
            return self._session.post(url, headers=headers, timeout=self.timeout, allow_redirects=False)

        try:
            reply = await self.blocking(call)
        except self._requests.Timeout as exc:
            raise NetTimeout("dns.timeout", provider=self.label, seconds=self.timeout) from exc
        except self._requests.RequestException as exc:
            raise NetworkError("dns.network", provider=self.label, detail=type(exc).__name__) from exc
        try:
            body = json.loads(reply.content or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError("dns.bad_reply", provider=self.label, error=f"HTTP {reply.status_code}")
        if reply.status_code != 200:
            code = str(body.get("Code", ""))
            raise ERRORS.error(provider=self.label, detail=f"{code}: {body.get('Message', '')}",
                               zone=self.settings.domain, codes=[code], status=reply.status_code)
        return body

    async def _site(self) -> str:
        if self._site_id is None:
            site = (self.settings.domain or "").strip(".")
            body = await self._call("ListSites", {"SiteName": site, "PageSize": "50"})
            for item in body.get("Sites") or []:
                if isinstance(item, dict) and str(item.get("SiteName", "")).lower() == site.lower():
                    self._site_id = str(item["SiteId"])
                    break
            else:
                raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self.label, zone=site,
                                   detail=site, permission=ERRORS.permission)
        return self._site_id

    async def _state(self) -> _State:
        site_id = await self._site()
        records = await self._call("ListRecords", {"SiteId": site_id, "RecordName": self.record_name,
                                                   "PageSize": "100"})
        record = next((r for r in records.get("Records") or []
                       if isinstance(r, dict) and str(r.get("RecordName", "")).lower() == self.record_name.lower()
                       and str(r.get("RecordType", "")).upper() in ("A/AAAA", "A", "AAAA")), None)
        if record is None:
            raise ZoneNotFound("cdn.record_missing", hint="cdn.hint.record_missing", provider=self.label,
                               name=self.record_name, zone=self.settings.domain, detail=self.record_name)
        data = record.get("Data")
        ip = str(data.get("Value", "")) if isinstance(data, dict) else ""
        rules = await self._call("ListOriginRules", {"SiteId": site_id, "RuleName": self.rule_name,
                                                     "PageSize": "100"})
        rule = next((c for c in rules.get("Configs") or []
                     if isinstance(c, dict) and c.get("RuleName") == self.rule_name), None)
        if rule is None:
            raise ZoneNotFound("cdn.rule_missing", hint="cdn.hint.rule_missing", provider=self.label,
                               name=self.rule_name, zone=self.settings.domain, detail=self.rule_name)
        return _State(str(record["RecordId"]), ip, str(rule["ConfigId"]), port_of(rule.get("OriginHttpPort")),
                      port_of(rule.get("OriginHttpsPort")))

    async def sync(self, records: Sequence[Record]) -> int:
        wanted = wanted_origin(records, self.label)
        state = await self._state()
        writes = 0
        if not _same_ip(state.ip, wanted.ip):
            params: dict[str, object] = {"RecordId": state.record_id, "Data": {"Value": wanted.ip}}
            if self.settings.ttl is not None:
                params["Ttl"] = str(self.settings.ttl)
            await self._call("UpdateRecord", params)
            writes += 1
        if (state.http_port, state.https_port) != (wanted.http_port, wanted.https_port):
            await self._call("UpdateOriginRule", {"SiteId": await self._site(), "ConfigId": state.rule_id,
                                                  "OriginHttpPort": str(wanted.http_port),
                                                  "OriginHttpsPort": str(wanted.https_port)})
            writes += 1
        return writes

    async def confirm(self, records: Sequence[Record]) -> bool:
        state = await self._state()
        return wanted_origin(records, self.label).same(Origin(state.ip, state.http_port, state.https_port))

    async def aclose(self) -> None:
        self._session.close()


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b



PROVIDER = ProviderSpec("aliesa", AliEsaProvider, needs=frozenset({"id", "token", "domain"}), order=72,
                        types=CDN_TYPES)
