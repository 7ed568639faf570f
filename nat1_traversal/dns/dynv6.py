"""dynv6 REST API v2 (https://dynv6.github.io/api-spec/), bearer token auth.

Record names are relative to the zone; dynv6 has no per-record TTL, so ``ttl``
is ignored.  SRV targets are sent absolute (trailing dot).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import (
    HTTP_STATUSES,
    REQUEST_TIMEOUT,
    ErrorTable,
    Record,
    RemoteRecord,
    SrvData,
    ZoneProvider,
    relative_name,
)
from nat1_traversal.dns.http import HttpReply, JsonHttp
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import ProviderError, ZoneNotFound

DEFAULT_ENDPOINT = "https://dynv6.com/api/v2"

ERRORS = ErrorTable(statuses=HTTP_STATUSES)

JsonObj = dict[str, object]


def describe_error(body: object) -> str:
    """dynv6's error bodies as one line: ``{"error": "text"}`` or, for a 422,
    ``{"error": {"name": ..., "message": ..., "fields": {field: problem(s)}}}``."""
    if not isinstance(body, dict):
        return str(body)
    error = body.get("error", body.get("message"))
    if isinstance(error, dict):
        parts = [str(error[key]) for key in ("name", "message") if error.get(key)]
        text = ": ".join(parts)
        fields = error.get("fields")
        if isinstance(fields, dict) and fields:
            problems = []
            for name, problem in fields.items():
                said = ", ".join(str(p) for p in problem) if isinstance(problem, list) else str(problem)
                problems.append(f"{name} {said}")
            text = f"{text} ({'; '.join(problems)})" if text else "; ".join(problems)
        return text or "?"
    if error is not None:
        return str(error)
    return ", ".join(f"{k}: {v}" for k, v in body.items()) or "?"


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
        detail = f"HTTP {reply.status} {describe_error(reply.body)}".strip()
        return ERRORS.error(provider=self.label, detail=detail, zone=self.zone_name, status=reply.status,
                            retry_after=reply.retry_seconds)

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

    async def delete_record(self, zone: int, stale: RemoteRecord[int]) -> None:
        await self._call("DELETE", f"/zones/{zone}/records/{stale.handle}")

    async def sync(self, records: Sequence[Record]) -> int:
        # dynv6 keeps no TTL per record: compare content only.
        return await super().sync([Record(r.type, r.name, r.data, None) for r in records])

    async def confirm(self, records: Sequence[Record]) -> bool:
        return await super().confirm([Record(r.type, r.name, r.data, None) for r in records])


PROVIDER = ProviderSpec("dynv6", Dynv6Provider, needs=frozenset({"token", "domain"}), order=20)
