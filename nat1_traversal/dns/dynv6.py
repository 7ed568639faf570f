"""dynv6 REST API v2 (https://dynv6.github.io/api-spec/), bearer token auth.

Record names are relative to the zone; dynv6 has no per-record TTL, so ``ttl``
is ignored.  SRV targets are sent absolute (trailing dot).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, Record, RemoteRecord, SrvData, ZoneProvider, relative_name
from nat1_traversal.dns.http import HttpReply, JsonHttp
from nat1_traversal.errors import ProviderAuthError, ProviderError, RateLimited, ZoneNotFound

DEFAULT_ENDPOINT = "https://dynv6.com/api/v2"

JsonObj = dict[str, object]


class Dynv6Provider(ZoneProvider[int, int]):
    label = "dynv6"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._base = (settings.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._http = JsonHttp(self.label, timeout)
        token = settings.token.reveal() if settings.token else ""
        self._auth = {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        self._http.close()

    async def _call(self, method: str, path: str, body: JsonObj | None = None) -> object:
        reply = await self._http.request(method, self._base + path, headers=self._auth, body=body)
        if reply.ok:
            return reply.body
        raise self._error(reply)

    def _error(self, reply: HttpReply) -> ProviderError:
        body = reply.body
        detail = str(body.get("error") or body.get("message") or body) if isinstance(body, dict) else str(body)
        fields = {"provider": self.label, "detail": f"HTTP {reply.status} {detail}".strip(), "zone": self.zone_name}
        if reply.status == 429:
            return RateLimited("dns.rate_limited", hint="dns.hint.rate", **fields)
        if reply.status == 401:
            return ProviderAuthError("dns.auth_failed", hint="dns.hint.auth", **fields)
        if reply.status == 403:
            return ProviderAuthError("dns.forbidden", hint="dns.hint.permission", **fields)
        return ProviderError("dns.api_error", **fields)

    async def find_zone(self) -> int:
        reply = await self._http.request("GET", f"{self._base}/zones/by-name/{self.zone_name}", headers=self._auth)
        if reply.status == 404:
            raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self.label, zone=self.zone_name)
        if not reply.ok or not isinstance(reply.body, dict) or "id" not in reply.body:
            raise self._error(reply)
        return int(cast(int, reply.body["id"]))

    def _relative(self, name: str) -> str:
        rel = relative_name(name, self.zone_name)
        return "" if rel == "@" else rel

    def _absolute(self, name: str) -> str:
        name = name.rstrip(".")
        return f"{name}.{self.zone_name}" if name else self.zone_name

    async def list_records(self, zone: int, wanted: Record) -> list[RemoteRecord[int]]:
        items = await self._call("GET", f"/zones/{zone}/records")
        wanted_rel = self._relative(wanted.name).lower()
        found: list[RemoteRecord[int]] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("type") != wanted.type:
                continue
            if str(item.get("name", "")).lower() != wanted_rel:
                continue
            record = self._parse(item, wanted)
            if record is not None:
                found.append(RemoteRecord(int(item["id"]), record))
        return found

    def _parse(self, item: JsonObj, wanted: Record) -> Record | None:
        data = str(item.get("data", ""))
        if wanted.type != "SRV":
            return Record(wanted.type, wanted.name, data, None)
        target = data[:-1] if data.endswith(".") else self._absolute(data)
        try:
            srv = SrvData(int(cast(int, item["priority"])), int(cast(int, item["weight"])),
                          int(cast(int, item["port"])), target)
        except (KeyError, TypeError, ValueError):
            return None
        return Record("SRV", wanted.name, srv, None)

    def _body(self, wanted: Record) -> JsonObj:
        body: JsonObj = {"type": wanted.type, "name": self._relative(wanted.name)}
        if isinstance(wanted.data, SrvData):
            srv = wanted.data
            body.update(data=srv.target + ".", priority=srv.priority, weight=srv.weight, port=srv.port)
        else:
            body["data"] = wanted.data
        return body

    async def create_record(self, zone: int, wanted: Record) -> None:
        await self._call("POST", f"/zones/{zone}/records", self._body(wanted))

    async def update_record(self, zone: int, current: RemoteRecord[int], wanted: Record) -> None:
        await self._call("PATCH", f"/zones/{zone}/records/{current.handle}", self._body(wanted))

    async def sync(self, records: Sequence[Record]) -> int:
        # dynv6 keeps no TTL per record: compare content only.
        return await super().sync([Record(r.type, r.name, r.data, None) for r in records])

    async def confirm(self, records: Sequence[Record]) -> bool:
        return await super().confirm([Record(r.type, r.name, r.data, None) for r in records])
