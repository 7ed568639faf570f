"""Alibaba Cloud DNS (AliDNS, API version 2015-01-09) via ``alibabacloud_alidns20150109``.

``id`` = AccessKeyId, ``token`` = AccessKeySecret; the SDK signs with
ACS3-HMAC-SHA256.  Calls: DescribeDomainRecords (paged, RR keyword + type,
filtered exactly here), AddDomainRecord, UpdateDomainRecord.  A no-op update
must never be sent: AliDNS rejects it with ``DomainRecordDuplicate``.
"""

from __future__ import annotations

import logging
from typing import Any, cast
from urllib.parse import urlsplit

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import (
    REQUEST_TIMEOUT,
    ErrorTable,
    Fault,
    Record,
    RemoteRecord,
    SrvData,
    ZoneProvider,
    relative_name,
)
from nat1_traversal.dns.sdk import ReplyTooLarge, cap_adapter, require
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import NetTimeout, NetworkError, ProviderError

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API allows up to 500
MAX_PAGES = 100
ERRORS = ErrorTable(
    codes={"DomainRecordDuplicate": Fault.EXISTS},
    prefixes=(
        ("Throttling", Fault.RATE),
        *((code, Fault.AUTH) for code in
          ("InvalidAccessKeyId", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeySecret")),
        ("Forbidden", Fault.FORBIDDEN),
        ("NoPermission", Fault.FORBIDDEN),
        *((code, Fault.ZONE) for code in
          ("InvalidDomainName.NoExist", "DomainNotExist", "InvalidDomainName.Format", "IncorrectDomainUser")),
    ),
    statuses={429: Fault.RATE, 403: Fault.FORBIDDEN},
    permission="AliyunDNSFullAccess",
)

JsonObj = dict[str, object]


def _cap_sdk_sessions(core: Any, provider: str) -> None:
    """The SDK keeps one ``requests`` session per endpoint (``DaraCore._get_session``, private) and
    sends prepared requests on it: cap the replies of every session it hands out."""
    dara: Any = getattr(core, "DaraCore", None)
    get_session = getattr(dara, "_get_session", None)
    if get_session is None or getattr(get_session, "_nat1_capped", False):
        return

    def capped_session(*args: Any, **kwargs: Any) -> Any:
        session = get_session(*args, **kwargs)
        for adapter in getattr(session, "adapters", {}).values():
            cap_adapter(adapter, provider)
        return session

    vars(capped_session)["_nat1_capped"] = True
    dara._get_session = staticmethod(capped_session)


class AliDnsProvider(ZoneProvider[str, str]):
    label = "阿里云 DNS"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._models, client, openapi, exceptions, runtime, core = require(
            "alidns", "alibabacloud_alidns20150109",
            "alibabacloud_alidns20150109.models",
            "alibabacloud_alidns20150109.client",
            "alibabacloud_tea_openapi.utils_models",
            "alibabacloud_tea_openapi.exceptions",
            "darabonba.runtime",
            "darabonba.core",
        )
        _cap_sdk_sessions(core, self.label)
        self._sdk_error: type[Exception] = exceptions.AlibabaCloudException
        config = openapi.Config(
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
        self._client = client.Client(config)
        self._runtime = runtime.RuntimeOptions(read_timeout=int(timeout * 1000), connect_timeout=int(timeout * 1000))

    async def _call(self, method: str, request: object) -> JsonObj:
        def call() -> JsonObj:
            response = getattr(self._client, method)(request, self._runtime)
            return cast(JsonObj, response.body.to_map())

        try:
            return await self.blocking(call)
        except self._sdk_error as exc:
            raise self._error(exc) from exc
        except Exception as exc:
            # Network failures arrive as the SDK's UnretryableException, which holds the
            # signed request: never put str(exc) in a message.
            inner = getattr(exc, "inner_exception", exc)
            if isinstance(inner, ReplyTooLarge):
                raise inner from None
            text = str(getattr(inner, "message", "") or inner).lower()
            if "timed out" in text or "timeout" in text:
                raise NetTimeout("dns.timeout", provider=self.label, seconds=self.timeout) from None
            raise NetworkError("dns.network", provider=self.label, detail=type(inner).__name__) from None

    def _error(self, exc: Exception) -> ProviderError:
        code = str(getattr(exc, "code", "") or "")
        data: Any = getattr(exc, "data", None)
        # The SDK's message ends in "request id: <fresh uuid>": use the reply's own Message, so
        # the same failure reads the same on every retry (the request id goes to the debug log).
        message = data.get("Message") if isinstance(data, dict) else None
        if not isinstance(message, str):
            message = str(getattr(exc, "message", "") or "").split(" request id: ")[0]
        log.debug("%s: %s (request id %s)", self.label, code, getattr(exc, "request_id", None))
        status = getattr(exc, "status_code", None)
        retry_ms = getattr(exc, "retry_after", None)  # x-acs-retry-after, in milliseconds
        retry_after = retry_ms / 1000 if isinstance(retry_ms, int) and retry_ms > 0 else None
        return ERRORS.error(provider=self.label, detail=f"{code}: {message}", zone=self.zone_name, codes=[code],
                            status=status if isinstance(status, int) else None, retry_after=retry_after)

    def _rr(self, name: str) -> str:
        return relative_name(name, self.zone_name)

    async def find_zone(self) -> str:
        # AliDNS addresses a zone by name; DescribeDomainRecords reports a missing one.
        return self.zone_name

    async def list_records(self, zone: str, wanted: Record) -> list[RemoteRecord[str]]:
        return await self._list(zone, wanted, wide=False)

    async def list_wide(self, zone: str, wanted: Record) -> list[RemoteRecord[str]]:
        return await self._list(zone, wanted, wide=True)

    async def _list(self, zone: str, wanted: Record, *, wide: bool) -> list[RemoteRecord[str]]:
        rr = self._rr(wanted.name)
        found: list[RemoteRecord[str]] = []
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            request = self._models.DescribeDomainRecordsRequest(
                domain_name=zone, rrkey_word=None if wide else rr, type=wanted.type, page_number=page,
                page_size=PAGE_SIZE,
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
        request = self._models.AddDomainRecordRequest(
            domain_name=zone, rr=self._rr(wanted.name), type=wanted.type, value=self._value(wanted), ttl=wanted.ttl
        )
        await self._call("add_domain_record_with_options", request)

    async def update_record(self, zone: str, current: RemoteRecord[str], wanted: Record) -> None:
        request = self._models.UpdateDomainRecordRequest(
            record_id=current.handle, rr=self._rr(wanted.name), type=wanted.type, value=self._value(wanted),
            ttl=wanted.ttl,
        )
        await self._call("update_domain_record_with_options", request)

    async def delete_record(self, zone: str, stale: RemoteRecord[str]) -> None:
        request = self._models.DeleteDomainRecordRequest(record_id=stale.handle)
        await self._call("delete_domain_record_with_options", request)


# id: the AccessKeyId; token: the AccessKeySecret.
PROVIDER = ProviderSpec("alidns", AliDnsProvider, needs=frozenset({"id", "token", "domain"}), order=45)
