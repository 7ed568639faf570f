"""A small JSON-over-HTTP client for the REST providers (Cloudflare, dynv6, webhook).

``requests`` is blocking, so every call runs in a worker thread; it is imported
when the first client is made, so the registry can import provider modules
cheaply.  Credentials travel only in headers, which are never logged; URLs and
bodies are logged at DEBUG (ours never carry credentials).  A reply is read up
to ``MAX_REPLY_BYTES``; a larger one is a provider error.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.dns.sdk import cap_replies
from nat1_traversal.errors import NetTimeout, NetworkError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

JsonValue = object
MAX_RETRY_AFTER = 3600.0  # a Retry-After beyond an hour is not taken literally


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; None when absent or unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(delay):
        return None
    return min(max(delay, 0.0), MAX_RETRY_AFTER)


def safe_url(url: str) -> str:
    """``url`` without user:password@ and without the query (either may hold a credential)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: JsonValue  # parsed JSON, or the text when the body is not JSON
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_seconds(self) -> float | None:
        return retry_after_seconds(self.retry_after)


class JsonHttp:
    """One ``requests.Session`` used from worker threads, with a per-request timeout."""

    def __init__(self, provider: str, timeout: float) -> None:
        self.provider = provider
        self.timeout = timeout
        import requests

        self._requests = requests
        self._session = requests.Session()
        cap_replies(self._session, provider)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        body: JsonValue | None = None,
        raw_body: bytes | None = None,
    ) -> HttpReply:
        log.debug("%s: %s %s params=%s body=%s", self.provider, method, safe_url(url), params, body)
        data = raw_body if raw_body is not None else (
            json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        )
        all_headers = {"Accept": "application/json", "User-Agent": "nat1_traversal"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})

        def call() -> requests.Response:
            return self._session.request(
                method, url, headers=all_headers, params=params, data=data, timeout=self.timeout
            )

        try:
            try:
                response = await in_daemon_thread(call, name=f"nat1-{self.provider}")
            except self._requests.Timeout:
                raise
            except self._requests.ConnectionError as exc:
                # A kept-alive connection the other end no longer knows (the NAT forgot its
                # mappings, a redial, the server restarted) fails at its first use and is
                # dropped from the pool: once more at once, on a new connection.
                log.debug("%s: %s, once more on a new connection", self.provider, type(exc).__name__)
                response = await in_daemon_thread(call, name=f"nat1-{self.provider}")
        except self._requests.Timeout as exc:
            raise NetTimeout("dns.timeout", provider=self.provider, seconds=self.timeout) from exc
        except self._requests.RequestException as exc:
            # The message of a connection error names host and port, never headers.
            raise NetworkError("dns.network", provider=self.provider, detail=type(exc).__name__) from exc
        try:
            parsed: JsonValue = response.json()
        except ValueError:
            parsed = response.text[:500]
        log.debug("%s: -> %d %s", self.provider, response.status_code, parsed)
        return HttpReply(response.status_code, parsed, response.headers.get("Retry-After"))

    def close(self) -> None:
        self._session.close()
