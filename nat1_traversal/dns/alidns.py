"""Alibaba Cloud DNS (AliDNS, API version 2015-01-09) via ``alibabacloud_alidns20150109``.

``id`` = AccessKeyId, ``token`` = AccessKeySecret; the SDK signs with
ACS3-HMAC-SHA256.  Calls: DescribeDomainRecords (paged, RR keyword + type,
filtered exactly here), AddDomainRecord, UpdateDomainRecord.  A no-op update
must never be sent: AliDNS rejects it with ``DomainRecordDuplicate``.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, Record, RemoteRecord, SrvData, ZoneProvider, relative_name
from nat1_traversal.errors import (
    NetTimeout,
    NetworkError,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    ZoneNotFound,
)

try:
    from alibabacloud_alidns20150109 import models as alidns_models
    from alibabacloud_alidns20150109.client import Client as AlidnsClient
    from alibabacloud_tea_openapi import utils_models as open_api_models
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    from darabonba.runtime import RuntimeOptions
except ImportError as exc:  # pragma: no cover - exercised by the registry test with a blocked import
    raise ProviderUnavailable("dns.unavailable", provider="alidns", package="alibabacloud_alidns20150109") from exc

PAGE_SIZE = 100  # the API allows up to 500
MAX_PAGES = 100
_AUTH_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeySecret")
_FORBIDDEN_CODES = ("Forbidden", "NoPermission")
_ZONE_CODES = ("InvalidDomainName.NoExist", "DomainNotExist", "InvalidDomainName.Format", "IncorrectDomainUser")

JsonObj = dict[str, object]


class AliDnsProvider(ZoneProvider[str, str]):
    label = "阿里云 DNS"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        config = open_api_models.Config(
            access_key_id=settings.id or "",
            access_key_secret=settings.token.reveal() if settings.token else "",
            read_timeout=int(timeout * 1000),
            connect_timeout=int(timeout * 1000),
        )
        if settings.endpoint:
            parts = urlsplit(settings.endpoint)
            config.endpoint = parts.netloc or parts.path
            config.protocol = parts.scheme or "https"
        else:
            config.endpoint = "alidns.aliyuncs.com"
        self._client = AlidnsClient(config)
        self._runtime = RuntimeOptions(read_timeout=int(timeout * 1000), connect_timeout=int(timeout * 1000))

    async def _call(self, method: str, request: object) -> JsonObj:
        def call() -> JsonObj:
            response = getattr(self._client, method)(request, self._runtime)
            return cast(JsonObj, response.body.to_map())

        try:
            return await self.blocking(call)
        except AlibabaCloudException as exc:
            raise self._error(exc) from exc
        except Exception as exc:
            # Network failures arrive as the SDK's UnretryableException, which holds the
            # signed request: never put str(exc) in a message.
            inner = getattr(exc, "inner_exception", exc)
            text = str(getattr(inner, "message", "") or inner).lower()
            if "timed out" in text or "timeout" in text:
                raise NetTimeout("dns.timeout", provider=self.label, seconds=self.timeout) from None
            raise NetworkError("dns.network", provider=self.label, detail=type(inner).__name__) from None

    def _error(self, exc: AlibabaCloudException) -> ProviderError:
        code = str(getattr(exc, "code", "") or "")
        message = str(getattr(exc, "message", "") or "")
        status = getattr(exc, "status_code", None)
        fields = {"provider": self.label, "detail": f"{code}: {message}", "zone": self.zone_name}
        if code.startswith("Throttling") or status == 429:
            return RateLimited("dns.rate_limited", hint="dns.hint.rate", **fields)
        if code.startswith(_AUTH_CODES):
            return ProviderAuthError("dns.auth_failed", hint="dns.hint.auth", **fields)
        if code.startswith(_FORBIDDEN_CODES) or status == 403:
            return ProviderAuthError("dns.forbidden", hint="dns.hint.permission", **fields)
        if code.startswith(_ZONE_CODES):
            return ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", **fields)
        return ProviderError("dns.api_error", **fields)

    def _rr(self, name: str) -> str:
        return relative_name(name, self.zone_name)

    async def find_zone(self) -> str:
        # AliDNS addresses a zone by name; DescribeDomainRecords reports a missing one.
        return self.zone_name

    async def list_records(self, zone: str, wanted: Record) -> list[RemoteRecord[str]]:
        rr = self._rr(wanted.name)
        found: list[RemoteRecord[str]] = []
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            request = alidns_models.DescribeDomainRecordsRequest(
                domain_name=zone, rrkey_word=rr, type=wanted.type, page_number=page, page_size=PAGE_SIZE
            )
            answer = await self._call("describe_domain_records_with_options", request)
            holder = answer.get("DomainRecords")
            items = holder.get("Record") if isinstance(holder, dict) else None
            items = items if isinstance(items, list) else []
            seen += len(items)
            for item in items:
                remote = self._parse(item, wanted, rr)
                if remote is not None:
                    found.append(remote)
            total = answer.get("TotalCount")
            # The page size that came back may be smaller than asked: count what was seen.
            if not items or not isinstance(total, int) or seen >= total:
                break
        return found

    @staticmethod
    def _parse(item: object, wanted: Record, rr: str) -> RemoteRecord[str] | None:
        # RRKeyWord is a fuzzy match: keep only the exact name.
        if not isinstance(item, dict) or item.get("Type") != wanted.type:
            return None
        if str(item.get("RR", "")).lower() != rr.lower():
            return None
        value = str(item.get("Value", ""))
        data: str | SrvData | None = SrvData.parse(value) if wanted.type == "SRV" else value
        if data is None:
            return None
        ttl = item.get("TTL")
        return RemoteRecord(str(item["RecordId"]), Record(wanted.type, wanted.name, data,
                                                          ttl if isinstance(ttl, int) else None))

    @staticmethod
    def _value(wanted: Record) -> str:
        # AliDNS SRV value: "priority weight port target" (target without the trailing dot).
        if isinstance(wanted.data, SrvData):
            srv = wanted.data
            return f"{srv.priority} {srv.weight} {srv.port} {srv.target}"
        return wanted.data

    async def create_record(self, zone: str, wanted: Record) -> None:
        request = alidns_models.AddDomainRecordRequest(
            domain_name=zone, rr=self._rr(wanted.name), type=wanted.type, value=self._value(wanted), ttl=wanted.ttl
        )
        await self._call("add_domain_record_with_options", request)

    async def update_record(self, zone: str, current: RemoteRecord[str], wanted: Record) -> None:
        request = alidns_models.UpdateDomainRecordRequest(
            record_id=current.handle, rr=self._rr(wanted.name), type=wanted.type, value=self._value(wanted),
            ttl=wanted.ttl,
        )
        await self._call("update_domain_record_with_options", request)
