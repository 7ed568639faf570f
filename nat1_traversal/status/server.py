"""The status server: ``/api/status``, ``/metrics`` and ``/`` on asyncio streams (SPEC section 12).

One request per connection, at most ``max_connections`` at once (one more gets
a 503 and is closed without being read), one deadline for the request head.
With a token every request must carry it, as ``Authorization: Bearer`` or
``?token=``; it is compared in constant time and never written anywhere.
A port that is taken is a warning, once: the product runs on without a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging

from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint, Secret
from nat1_traversal.status.http import (
    MAX_HEADER_BYTES,
    READ_TIMEOUT,
    HttpError,
    Request,
    Response,
    plain,
    read_request,
)
from nat1_traversal.status.registry import StatusRegistry

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
WRITE_TIMEOUT = 5.0
CLOSE_TIMEOUT = 0.2
ROUTES = ("/", "/api/status", "/metrics")


class StatusServer:
    def __init__(
        self,
        registry: StatusRegistry,
        address: Endpoint,
        token: Secret | None = None,
        *,
        max_connections: int = MAX_CONNECTIONS,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.registry = registry
        self.address = address
        self._token = token.reveal().encode("utf-8") if token else None
        self.max_connections = max_connections
        self.read_timeout = read_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._metrics: object | None = None  # a prometheus_client CollectorRegistry, made on first scrape

    @property
    def port(self) -> int:
        """The bound port (useful with port 0); 0 when not running."""
        if self._server is None or not self._server.sockets:
            return 0
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> bool:
        """Listen; False (after one warning) when the address cannot be bound."""
        try:
            self._server = await asyncio.start_server(
                self._on_connection, str(self.address.ip), self.address.port,
                limit=MAX_HEADER_BYTES + 2, reuse_address=True,
            )
        except OSError as exc:
            log.warning(t("status.port_taken", address=str(self.address), error=exc.strerror or exc))
            return False
        host = f"[{self.address.ip}]" if self.address.ip.version == 6 else str(self.address.ip)
        log.info(t("status.listening", address=f"{host}:{self.port}"))
        return True

    async def aclose(self) -> None:
        """Stop listening and end the connections still open (bounded)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=CLOSE_TIMEOUT)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)

    # --- one connection -------------------------------------------------------
    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self.max_connections:
            await self._send(writer, plain(503, headers=(("Retry-After", "1"),)), head_only=False)
            return
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._connections.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head_only = False
        try:
            request = await read_request(reader, self.read_timeout)
            head_only = request.method == "HEAD"
            response = self.respond(request)
        except HttpError as exc:
            response = plain(exc.status)
        except Exception:  # a bug must cost one request, not the server
            log.debug("status server: request failed", exc_info=True)
            response = plain(500)
        await self._send(writer, response, head_only=head_only)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, response: Response, *, head_only: bool) -> None:
        try:
            writer.write(response.encode(head_only=head_only))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            pass  # the client went away: nothing to tell anyone
        finally:
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)

    # --- routing (no I/O) -----------------------------------------------------
    def respond(self, request: Request) -> Response:
        if not self._authorised(request):
            return plain(401, headers=(("WWW-Authenticate", 'Bearer realm="nat1_traversal"'),))
        if request.path not in ROUTES:
            return plain(404)
        if request.method not in ("GET", "HEAD"):
            return plain(405, headers=(("Allow", "GET, HEAD"),))
        if request.path == "/api/status":
            body = json.dumps(self.registry.snapshot().to_json(), ensure_ascii=False).encode("utf-8")
            return Response(200, body, "application/json; charset=utf-8")
        if request.path == "/metrics":
            return self._metrics_response()
        from nat1_traversal.status.page import CONTENT_SECURITY_POLICY, render_page

        page = render_page(self.registry.snapshot()).encode("utf-8")
        return Response(200, page, "text/html; charset=utf-8", headers=(
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Frame-Options", "DENY"),
        ))

    def _metrics_response(self) -> Response:
        from prometheus_client import CollectorRegistry

        from nat1_traversal.status.metrics import CONTENT_TYPE, metrics_registry, render_metrics

        if not isinstance(self._metrics, CollectorRegistry):
            self._metrics = metrics_registry(self.registry)
        return Response(200, render_metrics(self._metrics), CONTENT_TYPE)

    def _authorised(self, request: Request) -> bool:
        if self._token is None:
            return True
        offered: list[bytes] = []
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            offered.append(credential.strip().encode("latin-1"))  # the header's own bytes
        offered += [value.encode("utf-8", "replace") for value in request.query.get("token", [])]
        # compare every candidate, so the time does not tell which one was close
        results = [hmac.compare_digest(candidate, self._token) for candidate in offered]
        return any(results)
