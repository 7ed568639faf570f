"""Cloudflare API v4 (https://developers.cloudflare.com/api/).

Auth: an API token (``id`` null, ``Authorization: Bearer``) or the legacy global
key (``id`` = account e-mail, ``X-Auth-Email`` + ``X-Auth-Key``).  Zones are
found with the server-side ``name`` filter, records with ``name`` and ``type``;
every list is paged.  Records are never proxied (a proxied A record would point
players at Cloudflare's HTTP proxy, not at the NAT mapping).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import (
    HTTP_STATUSES,
    REQUEST_TIMEOUT,
    ErrorTable,
    Fault,
    Record,
    RemoteRecord,
    SrvData,
    ZoneProvider,
)
from nat1_traversal.dns.http import HttpReply, JsonHttp
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import ProviderError, ZoneNotFound
from nat1_traversal.i18n import t

DEFAULT_ENDPOINT = "https://api.cloudflare.com/client/v4"
AUTOMATIC_TTL = 1  # Cloudflare's "automatic" TTL
PAGE_SIZE = 50
MAX_PAGES = 100  # a bound on paging loops, far above any real account

# 1000/6003/61xx: malformed auth headers or an invalid token, 9103: unknown global key,
# 9106/9107: missing or bad token.  9109 is both "Invalid access token" and "Unauthorized
# to access requested resource" (a valid token without the permission).  10000
# "Authentication error" on a zone the token cannot edit; 9110/9112 similar.
ERRORS = ErrorTable(
    codes={
        "971": Fault.RATE,
        **{str(code): Fault.AUTH for code in (1000, 6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9107)},
        "9109": Fault.AUTH_OR_PERMISSION,
        **{str(code): Fault.FORBIDDEN for code in (10000, 9110, 9112)},
        "81057": Fault.EXISTS,  # "Record already exists."
        "81058": Fault.EXISTS,  # "A record with the same settings already exists."
    },
    statuses=HTTP_STATUSES,
    permission="Zone:DNS:Edit",
)

JsonObj = dict[str, object]


class CloudflareProvider(ZoneProvider[str, str]):
    label = "Cloudflare"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._base = (settings.endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._http = JsonHttp(self.label, timeout)
        token = settings.token.reveal() if settings.token else ""
        if settings.id:
            self._auth = {"X-Auth-Email": settings.id, "X-Auth-Key": token}
        else:
            self._auth = {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        self._http.close()

    # --- HTTP plumbing -------------------------------------------------
    async def _call(
        self, method: str, path: str, params: dict[str, str | int] | None = None, body: JsonObj | None = None
    ) -> JsonObj:
        reply = await self._http.request(method, self._base + path, headers=self._auth, params=params, body=body)
        payload = reply.body if isinstance(reply.body, dict) else {}
        if reply.ok and payload.get("success") is True:
            return cast(JsonObj, payload)
        raise self._error(reply, cast(JsonObj, payload))

    def _error(self, reply: HttpReply, payload: JsonObj) -> ProviderError:
        errors = [e for e in cast(list[object], payload.get("errors") or []) if isinstance(e, dict)]
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or f"HTTP {reply.status}"
        return ERRORS.error(provider=self.label, detail=detail, zone=self.zone_name,
                            codes=[e.get("code") for e in errors], status=reply.status,
                            retry_after=reply.retry_seconds)

    async def _pages(self, path: str, params: dict[str, str | int]) -> Iterator[JsonObj]:
        items: list[JsonObj] = []
        for page in range(1, MAX_PAGES + 1):
            payload = await self._call("GET", path, {**params, "page": page, "per_page": PAGE_SIZE})
            items.extend(r for r in cast(list[object], payload.get("result") or []) if isinstance(r, dict))
            info = payload.get("result_info")
            total_pages = info.get("total_pages") if isinstance(info, dict) else None
            if not isinstance(total_pages, int) or page >= total_pages:
                break
        return iter(items)

    # --- ZoneProvider ----------------------------------------------------
    async def find_zone(self) -> str:
        for zone in await self._pages("/zones", {"name": self.zone_name}):
            if str(zone.get("name", "")).lower().rstrip(".") == self.zone_name.lower():
                return str(zone["id"])
        raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self.label, zone=self.zone_name)

    async def list_records(self, zone: str, wanted: Record) -> list[RemoteRecord[str]]:
        return await self._list(zone, wanted, {"name": wanted.name, "type": wanted.type})

    async def list_wide(self, zone: str, wanted: Record) -> list[RemoteRecord[str]]:
        return await self._list(zone, wanted, {"type": wanted.type})

    async def _list(self, zone: str, wanted: Record, params: dict[str, str | int]) -> list[RemoteRecord[str]]:
        found: list[RemoteRecord[str]] = []
        for item in await self._pages(f"/zones/{zone}/dns_records", params):
            record = self._parse(item)
            if record is not None and record.type == wanted.type and record.name.lower() == wanted.name.lower():
                found.append(RemoteRecord(str(item["id"]), record))
        return found

    async def create_record(self, zone: str, wanted: Record) -> None:
        await self._call("POST", f"/zones/{zone}/dns_records", body=self._body(wanted))

    async def update_record(self, zone: str, current: RemoteRecord[str], wanted: Record) -> None:
        # PATCH keeps what we do not manage (comment, tags) and changes the record in place.
        await self._call("PATCH", f"/zones/{zone}/dns_records/{current.handle}", body=self._body(wanted))

    async def delete_record(self, zone: str, stale: RemoteRecord[str]) -> None:
        await self._call("DELETE", f"/zones/{zone}/dns_records/{stale.handle}")

    # --- record translation ---------------------------------------------
    def _body(self, wanted: Record) -> JsonObj:
        body: JsonObj = {
            "type": wanted.type,
            "name": wanted.name,
            "ttl": wanted.ttl if wanted.ttl is not None else AUTOMATIC_TTL,
        }
        if isinstance(wanted.data, SrvData):
            srv = wanted.data
            body["data"] = {"priority": srv.priority, "weight": srv.weight, "port": srv.port, "target": srv.target}
        else:
            body["content"] = wanted.data
            body["proxied"] = False
        return body

    @staticmethod
    def _parse(item: JsonObj) -> Record | None:
        rtype = item.get("type")
        name = str(item.get("name", "")).rstrip(".")
        ttl = item.get("ttl")
        ttl_value = ttl if isinstance(ttl, int) else None
        if rtype in ("A", "AAAA"):
            return Record(rtype, name, str(item.get("content", "")), ttl_value)
        if rtype == "SRV":
            data = item.get("data")
            if isinstance(data, dict):
                try:
                    srv = SrvData(
                        int(data["priority"]), int(data["weight"]), int(data["port"]), str(data["target"]).rstrip(".")
                    )
                except (KeyError, TypeError, ValueError):
                    return None
                return Record("SRV", name, srv, ttl_value)
            # Older answers only carry content "weight port target" plus a separate priority.
            parsed = SrvData.parse(f"{item.get('priority', 0)} {item.get('content', '')}")
            return Record("SRV", name, parsed, ttl_value) if parsed else None
        return None


def _check(settings: DnsSettings) -> list[str]:
    ttl = settings.ttl
    if ttl is not None and ttl > 0 and ttl != AUTOMATIC_TTL and not 60 <= ttl <= 86400:
        return [t("dns.invalid.cloudflare_ttl", value=ttl)]
    return []


# id: the account e-mail for a legacy global key (optional); token: the API token or key.
PROVIDER = ProviderSpec("cloudflare", CloudflareProvider, needs=frozenset({"token", "domain"}), check=_check,
                        order=10)
