"""Tencent Cloud DNSPod, API 3.0 (TC3-HMAC-SHA256 signed by ``tencentcloud-sdk-python-dnspod``).

``id`` = SecretId, ``token`` = SecretKey.  Calls: DescribeRecordList (paged
with Offset/Limit, filtered by Subdomain and RecordType), CreateRecord,
ModifyRecord, DescribeRecord (read-back by id: the list has an index delay of
up to ~30 s after a write, per the API reference).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast
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
from nat1_traversal.dns.sdk import ReplyTooLarge, cap_replies, require
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import NetTimeout, NetworkError, ProviderError

ERRORS = ErrorTable(
    codes={
        "AuthFailure.UnauthorizedOperation": Fault.FORBIDDEN,
        "UnauthorizedOperation": Fault.FORBIDDEN,
        "ResourceNotFound.NoDataOfDomain": Fault.ZONE,
        "InvalidParameter.DomainRecordExist": Fault.EXISTS,
    },
    prefixes=(
        ("RequestLimitExceeded", Fault.RATE),
        ("UnauthorizedOperation.", Fault.FORBIDDEN),
        ("AuthFailure", Fault.AUTH),
        ("InvalidParameterValue.DomainNotExists", Fault.ZONE),
        ("ResourceNotFound.DomainNotExists", Fault.ZONE),
    ),
    permission="QcloudDNSPodFullAccess",
)

DEFAULT_LINE = "默认"  # DNSPod's default resolution line; the API wants this literal name
PAGE_SIZE = 100
MAX_PAGES = 100
# The SDK logs whole requests (with the Authorization header) at DEBUG: keep it quiet.
logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)

JsonObj = dict[str, object]


class TencentCloudProvider(ZoneProvider[str, int]):
    label = "腾讯云 DNSPod"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        credential, sdk_exception, client_profile, profile, dnspod = require(
            "tencentcloud", "tencentcloud-sdk-python-dnspod",
            "tencentcloud.common.credential",
            "tencentcloud.common.exception.tencent_cloud_sdk_exception",
            "tencentcloud.common.profile.client_profile",
            "tencentcloud.common.profile.http_profile",
            "tencentcloud.dnspod.v20210323.dnspod_client",
        )
        self._sdk_error: type[Exception] = sdk_exception.TencentCloudSDKException
        http_profile = profile.HttpProfile(reqTimeout=max(1, round(timeout)))
        if settings.endpoint:
            parts = urlsplit(settings.endpoint)
            http_profile.endpoint = parts.netloc or parts.path
            http_profile.scheme = parts.scheme or "https"
            http_profile.protocol = http_profile.scheme
        cred = credential.Credential(settings.id or "", settings.token.reveal() if settings.token else "")
        self._client = dnspod.DnspodClient(cred, "", client_profile.ClientProfile(httpProfile=http_profile))
        session = getattr(getattr(getattr(self._client, "request", None), "conn", None), "_session", None)
        if session is not None:  # the SDK's requests.Session (private): bound its replies too
            cap_replies(session, self.label)
        # (name, type) -> id of a record we wrote, in case the list has not indexed it yet.
        self._written: dict[tuple[str, str], RemoteRecord[int]] = {}
        self._deleted: set[int] = set()  # ids deleted by this provider, which the list may still show

    async def _call(self, action: str, params: JsonObj) -> JsonObj:
        def call() -> JsonObj:
            return cast(JsonObj, self._client.call_json(action, params))

        try:
            answer = await self.blocking(call)
        except self._sdk_error as exc:
            if isinstance(exc.__context__, ReplyTooLarge):  # raised by the cap inside the SDK's session
                raise exc.__context__ from None
            raise self._error(str(getattr(exc, "code", "") or ""), str(getattr(exc, "message", ""))) from exc
        response = answer.get("Response")
        if not isinstance(response, dict):
            raise ProviderError("dns.bad_reply", provider=self.label, error="no Response")
        # The SDK checks for an error only when the content type is exactly "application/json";
        # with "application/json; charset=UTF-8" an error reply comes back as an answer.
        error = response.get("Error")
        if isinstance(error, dict):
            raise self._error(str(error.get("Code") or ""), str(error.get("Message") or ""))
        return cast(JsonObj, response)

    def _error(self, code: str, message: str) -> Exception:
        if code in ("ClientNetworkError", "ServerNetworkError"):
            text = message.lower()
            if "timed out" in text or "timeout" in text:
                return NetTimeout("dns.timeout", provider=self.label, seconds=self.timeout)
            return NetworkError("dns.network", provider=self.label, detail=f"{code}: {message}")
        return ERRORS.error(provider=self.label, detail=f"{code}: {message}", zone=self.zone_name, codes=[code])

    def _sub(self, name: str) -> str:
        return relative_name(name, self.zone_name)

    async def find_zone(self) -> str:
        # DNSPod addresses a zone by its name; list_records reports a missing one.
        return self.zone_name

    async def list_records(self, zone: str, wanted: Record) -> list[RemoteRecord[int]]:
        return await self._list(zone, wanted, wide=False)

    async def list_wide(self, zone: str, wanted: Record) -> list[RemoteRecord[int]]:
        return await self._list(zone, wanted, wide=True)

    async def _list(self, zone: str, wanted: Record, *, wide: bool) -> list[RemoteRecord[int]]:
        found: list[RemoteRecord[int]] = []
        params: JsonObj = {"Domain": zone, "RecordType": wanted.type}
        if not wide:
            params["Subdomain"] = self._sub(wanted.name)
        offset = 0
        for _ in range(MAX_PAGES):
            try:
                answer = await self._call("DescribeRecordList", {**params, "Offset": offset, "Limit": PAGE_SIZE})
            except ProviderError as exc:
                # An empty result is an error in this API, not an empty list.
                if "ResourceNotFound.NoDataOfRecord" in str(exc.fields.get("detail")):
                    break
                raise
            items = answer.get("RecordList")
            items = items if isinstance(items, list) else []
            offset += len(items)
            for item in items:
                remote = self._parse(item, wanted)
                if remote is not None and remote.handle not in self._deleted:
                    found.append(remote)
            info = answer.get("RecordCountInfo")
            total = info.get("TotalCount") if isinstance(info, dict) else None
            # Advance by what came back: the service may cap Limit below what we asked for.
            if not items or not isinstance(total, int) or offset >= total:
                break
        cached = self._written.get((wanted.name.lower(), wanted.type))
        if cached is not None and all(r.handle != cached.handle for r in found):
            # Written by us but not listed yet: ask for it by id, and believe what comes back.
            current = await self._describe(zone, cached.handle, wanted)
            if current is not None:
                found.append(current)
        return found

    async def _describe(self, zone: str, handle: int, wanted: Record) -> RemoteRecord[int] | None:
        """The record ``handle`` as the service holds it; None (and forgotten) when it is gone."""
        try:
            answer = await self._call("DescribeRecord", {"Domain": zone, "RecordId": handle})
        except ProviderError as exc:
            if "ResourceNotFound.NoDataOfRecord" not in str(exc.fields.get("detail")):
                raise
            answer = {}
        info = answer.get("RecordInfo")
        remote = None
        if isinstance(info, dict):
            item = {"RecordId": handle, "Type": info.get("RecordType"), "Name": info.get("SubDomain"),
                    "Value": info.get("Value"), "TTL": info.get("TTL")}
            remote = self._parse(item, wanted)
        if remote is None:
            self._written.pop((wanted.name.lower(), wanted.type), None)
        return remote

    def _parse(self, item: object, wanted: Record) -> RemoteRecord[int] | None:
        if not isinstance(item, dict) or item.get("Type") != wanted.type:
            return None
        if str(item.get("Name", "")).lower() != self._sub(wanted.name).lower():
            return None
        ttl = item.get("TTL")
        value = str(item.get("Value", ""))
        data: str | SrvData | None = SrvData.parse(value) if wanted.type == "SRV" else value
        if data is None:
            return None
        return RemoteRecord(int(item["RecordId"]), Record(wanted.type, wanted.name, data,
                                                          ttl if isinstance(ttl, int) else None))

    def _params(self, zone: str, wanted: Record) -> JsonObj:
        value = wanted.data.text() if isinstance(wanted.data, SrvData) else wanted.data
        params: JsonObj = {
            "Domain": zone,
            "SubDomain": self._sub(wanted.name),
            "RecordType": wanted.type,
            "RecordLine": DEFAULT_LINE,
            "Value": value,
        }
        if wanted.ttl is not None:
            params["TTL"] = wanted.ttl
        return params

    async def create_record(self, zone: str, wanted: Record) -> None:
        answer = await self._call("CreateRecord", self._params(zone, wanted))
        record_id = answer.get("RecordId")
        if isinstance(record_id, int):
            self._written[(wanted.name.lower(), wanted.type)] = RemoteRecord(record_id, wanted)

    async def update_record(self, zone: str, current: RemoteRecord[int], wanted: Record) -> None:
        await self._call("ModifyRecord", {**self._params(zone, wanted), "RecordId": current.handle})
        self._written[(wanted.name.lower(), wanted.type)] = RemoteRecord(current.handle, wanted)

    async def delete_record(self, zone: str, stale: RemoteRecord[int]) -> None:
        try:
            await self._call("DeleteRecord", {"Domain": zone, "RecordId": stale.handle})
        except ProviderError as exc:
            if "ResourceNotFound.NoDataOfRecord" not in str(exc.fields.get("detail")):
                raise
        self._deleted.add(stale.handle)

    async def confirm(self, records: Sequence[Record]) -> bool:
        """Read every record back: by id when this run wrote it (the list lags behind writes by
        up to ~30 s), else through the list."""
        zone = await self.zone()
        for wanted in records:
            written = self._written.get((wanted.name.lower(), wanted.type))
            if written is None:
                found = await self._list(zone, wanted, wide=False)
                if not any(wanted.satisfied_by(r.record) for r in found):
                    return False
                continue
            remote = await self._describe(zone, written.handle, wanted)
            if remote is None or not wanted.satisfied_by(remote.record):
                return False
        return True


PROVIDER = ProviderSpec("tencentcloud", TencentCloudProvider, needs=frozenset({"id", "token", "domain"}), order=40)
