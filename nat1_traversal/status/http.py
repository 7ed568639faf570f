"""Just enough HTTP/1.1 for a status server: read one request head within limits, write one reply.

Every connection carries one request and is closed after the reply
(``Connection: close``), so there is no keep-alive state to get wrong. The limits
keep a slow or hostile client from holding memory or a connection slot:
RFC 9112 section 3 leaves the request-line length to the server (414 above it),
RFC 6585 section 5 gives 431 for header fields that are too large.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

MAX_REQUEST_LINE = 2048
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 64
READ_TIMEOUT = 5.0

REASONS: dict[int, str] = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpError(Exception):
    """A request we answer with ``status`` and then close."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())

    def encode(self, *, head_only: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            # The token may be in the URL (?token=): never hand it to another site.
            "Referrer-Policy: no-referrer",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def plain(status: int, text: str | None = None, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    body = (text if text is not None else REASONS.get(status, "")) + "\n"
    return Response(status, body.encode("utf-8"), headers=headers)


async def read_request(reader: asyncio.StreamReader, timeout: float = READ_TIMEOUT) -> Request:
    """Read the request line and headers (one deadline for both); raises HttpError."""
    try:
        return await asyncio.wait_for(_read_head(reader), timeout)
    except asyncio.TimeoutError:
        raise HttpError(408) from None


async def _read_head(reader: asyncio.StreamReader) -> Request:
    line = await _read_line(reader, MAX_REQUEST_LINE, 414)
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400)
    method, target, _version = parts
    if not target.startswith("/"):
        raise HttpError(400)
    headers: dict[str, str] = {}
    total = 0
    while True:
        header = await _read_line(reader, MAX_HEADER_BYTES, 431)
        if header == "":
            break
        total += len(header) + 2
        if total > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS:
            raise HttpError(431)
        name, sep, value = header.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400)
        headers[name.lower()] = value.strip()
    split = urlsplit(target)
    return Request(method, split.path, parse_qs(split.query), headers)


async def _read_line(reader: asyncio.StreamReader, limit: int, status: int) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise HttpError(status) from None
    except asyncio.IncompleteReadError:
        raise HttpError(400) from None
    if len(raw) > limit + 2:
        raise HttpError(status)
    try:
        return raw.decode("latin-1").rstrip("\r\n")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError(400) from None
