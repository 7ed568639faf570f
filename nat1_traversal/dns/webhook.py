"""``dns: webhook``: two JSON POSTs per mapping to the URL in ``id`` (SPEC §5).

A webhook cannot be read back, so it is told about every new mapping; the
publisher makes sure an unchanged mapping is not sent twice in one run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, ErrorTable, Fault, Provider, Record, SrvData
from nat1_traversal.dns.http import HttpReply, JsonHttp, safe_url
from nat1_traversal.dns.spec import ProviderSpec, valid_url
from nat1_traversal.errors import ProviderError
from nat1_traversal.i18n import t

log = logging.getLogger(__name__)

JsonObj = dict[str, object]
ERRORS = ErrorTable(statuses={429: Fault.RATE, 401: Fault.AUTH, 403: Fault.AUTH})


class WebhookProvider(Provider):
    label = "webhook"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._url = (settings.id or "").strip()
        self._http = JsonHttp(self.label, timeout)
        self._headers: dict[str, str] = {}
        if settings.token:
            self._headers["Authorization"] = f"Bearer {settings.token.reveal()}"
        self._warned_plain_http = False

    async def aclose(self) -> None:
        self._http.close()

    def bodies(self, records: Sequence[Record]) -> list[JsonObj]:
        """The two bodies of SPEC §5, A (or AAAA) first, then SRV."""
        sub = (self.settings.sub_domain or "").strip()
        domain = (self.settings.domain or "").strip(".")
        out: list[JsonObj] = []
        for record in records:
            if isinstance(record.data, SrvData):
                prefix = record.name[: len(record.name) - len(self.settings.fqdn)]
                out.append({
                    "name": prefix + sub,
                    "data": sub,
                    "type": "SRV",
                    "domain": domain,
                    "priority": record.data.priority,
                    "weight": record.data.weight,
                    "port": record.data.port,
                })
            else:
                out.append({"name": sub, "data": record.data, "type": record.type, "domain": domain})
        return out

    async def sync(self, records: Sequence[Record]) -> int:
        if self._headers and urlsplit(self._url).scheme == "http" and not self._warned_plain_http:
            self._warned_plain_http = True
            log.warning(t("dns.webhook_plain_http", url=safe_url(self._url)))
        writes = 0
        for body in self.bodies(records):
            raw = json.dumps(body).encode()
            reply = await self._http.request("POST", self._url, headers=self._headers, raw_body=raw)
            if not reply.ok:
                raise self._error(reply)
            writes += 1
        return writes

    def _error(self, reply: HttpReply) -> ProviderError:
        return ERRORS.error(provider=self.label, detail=f"HTTP {reply.status}", zone=self.settings.domain,
                            status=reply.status, retry_after=reply.retry_seconds)


def _check(settings: DnsSettings) -> list[str]:
    url = (settings.id or "").strip()
    return [] if valid_url(url) else [t("dns.invalid.webhook_url", value=settings.id or "")]


# id: the URL; token (optional): sent as a bearer token.
PROVIDER = ProviderSpec("webhook", WebhookProvider, endpoint="unused", check=_check, order=30)
