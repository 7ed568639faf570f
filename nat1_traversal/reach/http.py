"""A one-shot HTTP/1.1 ``GET`` for the port checkers, on asyncio streams (no thread, no SDK).

The request goes over one address family (the mapping's): a checker that tests
the requester's address must see the address the mapping has, and a dual-stack
host would otherwise ask over IPv6. Replies are capped (a checker answers a few
bytes), the whole exchange has one deadline, and the connection is closed after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError
from nat1_traversal.net import lookup_addrinfo

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 4 * 1024


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: bytes
    peer: str  # the address we connected to (proxy detection looks at it)


async def http_get(url: str, *, timeout: float, family: int = socket.AF_INET) -> HttpAnswer:
    """``GET url``; raises NetworkError (NetTimeout after ``timeout``) or ProtocolError."""
    try:
        return await asyncio.wait_for(_get(url, family), timeout)
    except asyncio.TimeoutError as exc:
        raise NetTimeout("reach.http_timeout", url=_safe(url), timeout=timeout) from exc
    except OSError as exc:
        raise NetworkError("reach.http_failed", url=_safe(url), error=exc.strerror or exc) from exc


def _safe(url: str) -> str:
    """The URL without its query (a user's template might carry a token there)."""
    return url.split("?", 1)[0]


async def _get(url: str, family: int) -> HttpAnswer:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProtocolError("reach.http_bad_url", url=_safe(url))
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await lookup_addrinfo(host, port, family, socket.SOCK_STREAM)  # DoH when `resolver` is set
    if not infos:
        raise OSError("no address")
    address = infos[0][4]
    context = ssl.create_default_context() if parts.scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        str(address[0]), int(address[1]), ssl=context, server_hostname=host if context else None,
        limit=MAX_HEAD_BYTES,
    )
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = f"[{host}]" if ":" in host else host
        if parts.port:
            authority += f":{parts.port}"
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: nat1_traversal\r\n"
            "Accept: application/json, text/plain\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii", "replace"))
        await writer.drain()
        status, headers = await _read_head(reader, url)
        body = await _read_body(reader, headers, url)
        return HttpAnswer(status, body, str(address[0]))
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader, url: str) -> tuple[int, dict[str, str]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ProtocolError("reach.http_bad_reply", url=_safe(url)) from exc
    lines = raw[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError("reach.http_bad_reply", url=_safe(url))
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], url: str) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                raise ProtocolError("reach.http_bad_reply", url=_safe(url)) from None
            if size == 0:
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise ProtocolError("reach.http_bad_reply", url=_safe(url))
            body += await reader.readexactly(size)
            await reader.readline()
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > MAX_BODY_BYTES:
            raise ProtocolError("reach.http_bad_reply", url=_safe(url))
        try:
            return await reader.readexactly(int(length))
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError("reach.http_bad_reply", url=_safe(url)) from exc
    body = bytearray()
    while len(body) <= MAX_BODY_BYTES:
        more = await reader.read(MAX_BODY_BYTES + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError("reach.http_bad_reply", url=_safe(url))
    return bytes(body)
