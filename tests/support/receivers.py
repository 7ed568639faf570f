"""A real HTTP server on 127.0.0.1 for tests: records every request, answers from a script.

It stands in for a webhook receiver (Apprise ``json://`` / ``form://``), a DoH server and
the Web APIs of recipes. It runs in its own thread (``ThreadingHTTPServer``), so the code
under test meets a real socket; ``close()`` stops it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


Responder = Callable[[Request, int], Reply]  # (request, its 0-based number) -> reply


def scripted(*statuses: int) -> Responder:
    """Answer the n-th request with statuses[n], then 200 for ever."""

    def respond(_: Request, number: int) -> Reply:
        status = statuses[number] if number < len(statuses) else 200
        return Reply(status, b'{"ok": true}' if status == 200 else b'{"error": "scripted failure"}')

    return respond


class Receiver:
    def __init__(self, respond: Responder, host: str = "127.0.0.1") -> None:
        self.requests: list[Request] = []
        self._respond = respond
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                  time.monotonic())
                with receiver._changed:
                    number = len(receiver.requests)
                    receiver.requests.append(request)
                    receiver._changed.notify_all()
                reply = receiver._respond(request, number)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:  # the base's parameter names
                return

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-receiver", daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """Block until ``count`` requests arrived (AssertionError after ``timeout``)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"{len(self.requests)} of {count} requests arrived within {timeout} s")
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@contextmanager
def receiver(respond: Responder | None = None) -> Iterator[Receiver]:
    running = Receiver(respond or scripted())
    try:
        yield running
    finally:
        running.close()
