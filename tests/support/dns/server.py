"""A tiny threaded HTTP server on 127.0.0.1 that hands every request to a fake API object.

Fakes keep an in-memory zone, count reads and writes, and can be told to fail
the next requests (``inject``) or to stall (``stall``) so timeouts can be tested,
to answer writes with success while storing nothing (``drop_writes``), or to leave
some names out of name-filtered listings (``unindexed``, as an index that lags).
"""

from __future__ import annotations

import copy
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> dict[str, object]:
        data: object = json.loads(self.body or b"{}")
        return data if isinstance(data, dict) else {}


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, payload: object, **headers: str) -> Reply:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


@dataclass
class StoredRecord:
    id: int
    name: str  # absolute, lower case, no trailing dot
    type: str
    value: str  # A: address; SRV: "priority weight port target" (no trailing dot)
    ttl: int


@dataclass
class ZoneStore:
    zone: str
    records: list[StoredRecord] = field(default_factory=list)
    next_id: int = 1000

    def add(self, name: str, rtype: str, value: str, ttl: int = 600) -> StoredRecord:
        record = StoredRecord(self.next_id, name.lower().rstrip("."), rtype, value, ttl)
        self.next_id += 1
        self.records.append(record)
        return record

    def get(self, record_id: int) -> StoredRecord | None:
        return next((r for r in self.records if r.id == record_id), None)

    def delete(self, record_id: int) -> bool:
        before = len(self.records)
        self.records = [r for r in self.records if r.id != record_id]
        return len(self.records) != before

    def find(self, name: str | None = None, rtype: str | None = None) -> list[StoredRecord]:
        return [
            r for r in self.records
            if (name is None or r.name == name.lower().rstrip(".")) and (rtype is None or r.type == rtype)
        ]

    def snapshot(self) -> list[tuple[str, str, str, int]]:
        return sorted((r.name, r.type, r.value, r.ttl) for r in self.records)

    def relative(self, name: str) -> str:
        if name == self.zone:
            return "@"
        return name[: -len(self.zone) - 1]

    def absolute(self, rel: str) -> str:
        return self.zone if rel in ("", "@") else f"{rel.lower()}.{self.zone}"


class FakeApi:
    """Base of the fakes: request log, counters, injected failures, stalls."""

    WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, zone: str) -> None:
        self.store = ZoneStore(zone)
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.writes = 0
        self.max_page_size = 100
        self.injected: deque[Reply] = deque()
        self.stall_seconds = 0.0
        self.drop_writes = False  # answer writes with success, keep the zone as it was
        self.unindexed: set[str] = set()  # absolute names that name-filtered listings leave out
        self.release = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    # to be overridden
    def handle(self, request: Request) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def rate_limited_reply(self) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def is_write(self, request: Request) -> bool:
        return request.method in self.WRITE_METHODS

    def inject(self, *replies: Reply) -> None:
        self.injected.extend(replies)

    def inject_rate_limit(self) -> None:
        self.inject(self.rate_limited_reply())

    def inject_bad_gateway(self) -> None:
        self.inject(Reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html"))

    def dispatch(self, request: Request) -> Reply:
        if self.stall_seconds:
            self.release.wait(self.stall_seconds)
        with self.lock:
            self.requests.append(request)
            if self.injected:
                return self.injected.popleft()
            kept = copy.deepcopy(self.store.records) if self.drop_writes and self.is_write(request) else None
            reply = self.handle(request)
            if kept is not None:
                self.store.records = kept
            elif 200 <= reply.status < 300 and self.is_write(request) and self.counts_as_write(request, reply):
                self.writes += 1
            return reply

    def listed(self, name: str | None, rtype: str | None) -> list[StoredRecord]:
        """What a listing filtered by ``name`` (when given) and ``rtype`` shows."""
        if name is not None and name.lower().rstrip(".") in self.unindexed:
            return []
        return self.store.find(name, rtype)

    def inject_oversized(self, size: int = 2 << 20) -> None:
        self.inject(Reply(200, b"[" + b"0," * (size // 2) + b"0]"))

    def inject_rate_limit_after(self, seconds: int) -> None:
        reply = self.rate_limited_reply()
        reply.headers["Retry-After"] = str(seconds)
        self.inject(reply)

    def counts_as_write(self, request: Request, reply: Reply) -> bool:
        return True

    # --- server ---------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = fake.dispatch(request)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that hangs up (a refused oversized reply) is not a fault of the fake.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.server = server
        threading.Thread(target=server.serve_forever, name="fake-api", daemon=True).start()
        return f"http://127.0.0.1:{server.server_port}"

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
