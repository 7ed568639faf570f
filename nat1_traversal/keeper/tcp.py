"""TCP mapping path: STUN over TCP from the service port, kept alive by an HTTP connection.

The keepalive is a persistent HTTP/1.1 connection from the service port to a web
server, with a ``HEAD /`` every ``keepalive_interval``. As long as that connection
lives, the NAT keeps the port's mapping (an endpoint-independent NAT shares one
mapping among all connections of an inner port, RFC 5382 section 4.1), and it needs
no hairpin support from the router. The connection is opened *before* STUN is
asked, so the mapping STUN reports is the one the keepalive holds.

A broken keepalive (reset, EOF, a reply that does not come) ends ``hold`` at once;
the keeper then re-acquires. Every connection we end ourselves is closed with RST
(``SO_LINGER`` 0) so that no TIME_WAIT blocks reaching the same server from the
same port again right away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Sequence

from nat1_traversal.errors import NetworkError
from nat1_traversal.keeper.types import Answer, HoldResult, KeeperTiming, Recheck
from nat1_traversal.model import Endpoint, HostPort, Mapping, Proto
from nat1_traversal.net import Resolver, connect_from, is_dual_stack, unmapped
from nat1_traversal.stun.client import ServerList
from nat1_traversal.stun.transport import abort, tcp_binding

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024


class HttpKeepalive:
    """One keep-alive HTTP connection on a socket we own."""

    def __init__(self, sock: socket.socket, server: HostPort) -> None:
        self.sock = sock
        self.server = server
        self.closing = False  # the server announced "Connection: close"
        self.closed_by_server = False  # idle() saw a clean EOF (FIN), not a reset
        self.answered_at: float | None = None  # loop time of the last reply
        host = f"[{server.host}]" if ":" in server.host else server.host  # RFC 7230 section 5.4
        if server.port != 80:
            host += f":{server.port}"
        self._request = (
            f"HEAD / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nat1_traversal\r\n"
            "Accept: */*\r\nConnection: keep-alive\r\n\r\n"
        ).encode("ascii", "replace")

    async def ping(self, timeout: float) -> int:
        """Send one ``HEAD /`` and read the response head; returns the status code."""
        try:
            return await asyncio.wait_for(self._exchange(), timeout)
        except asyncio.TimeoutError as exc:
            raise NetworkError("keeper.keepalive_timeout", server=str(self.server), timeout=timeout) from exc
        except OSError as exc:
            raise NetworkError("keeper.keepalive_broken", server=str(self.server), error=exc) from exc

    async def _exchange(self) -> int:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, self._request)
        head = bytearray()
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(self.sock, 4096)
            if not chunk:
                raise OSError("connection closed by peer")
            head += chunk
            if len(head) > MAX_HEADER_BYTES:
                raise OSError("response head too large")
        # A HEAD response has no body; anything after the head (a server that sends
        # one anyway) is dropped here or by idle().
        text = bytes(head).split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = text.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise OSError("not an HTTP response")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "connection" and "close" in value.lower():
                self.closing = True
        self.answered_at = loop.time()
        return int(parts[1])

    async def idle(self, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the connection closes or breaks."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), remaining)
            except asyncio.TimeoutError:
                return True
            except OSError as exc:
                log.debug("keepalive %s broken while idle: %s", self.server, exc)
                return False
            if not data:
                log.debug("keepalive %s closed by the server", self.server)
                self.closed_by_server = True
                return False

    def close(self) -> None:
        abort(self.sock)

    def finish(self) -> None:
        """Close after the server did (a one-shot server): an orderly close keeps the
        flow in the NAT's conntrack (TIME_WAIT) until we reconnect, and with it the mapping."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class TcpPath:
    """``MappingPath`` for TCP services (both modes: the port is shared either way)."""

    proto: Proto = "tcp"

    def __init__(
        self,
        local: Endpoint,
        keepalive: Sequence[HostPort] | ServerList,
        timing: KeeperTiming,
        *,
        family: int = socket.AF_INET,
    ) -> None:
        self._local = local
        # A ServerList given is shared with other services (its health counts for all).
        self._keepalive = keepalive if isinstance(keepalive, ServerList) else ServerList(keepalive, policy="stable")
        self._timing = timing
        self._resolve = Resolver("tcp", family, timing.resolve_ttl, dual_stack=is_dual_stack(local))
        self.conn: HttpKeepalive | None = None

    async def prepare(self) -> None:
        if self.conn is not None:
            return
        last: Exception | None = None
        for server in self._keepalive.ordered():
            try:
                self.conn = await self._open(server)
            except NetworkError as exc:
                log.debug("keepalive server %s failed: %s", server, exc)
                self._keepalive.mark_bad(server)
                last = exc
                continue
            self._keepalive.mark_good(server)
            log.debug("keepalive connected to %s from %s", server, self._local)
            return
        raise NetworkError("keeper.no_keepalive", count=len(self._keepalive), error=last)

    async def _open(self, server: HostPort) -> HttpKeepalive:
        addr = await self._resolve(server)
        sock = await connect_from(self._local, addr, self._timing.connect_timeout)
        conn = HttpKeepalive(sock, server)
        try:
            await conn.ping(self._timing.reply_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    async def binding(self, server: HostPort) -> Answer:
        addr = await self._resolve(server)
        result = await tcp_binding(self._local, addr, self._timing.connect_timeout + self._timing.reply_timeout)
        return Answer(Mapping("tcp", unmapped(result.local or self._local), result.mapped), result.other, addr)

    async def hold(self, mapping: Mapping, recheck: Recheck, alive: Callable[[], None]) -> HoldResult:
        healthy = False
        ticks = 0
        while True:
            conn = self.conn
            if conn is None:
                return HoldResult("keeper.reason.keepalive_closed", healthy)
            if not await conn.idle(self._timing.keepalive_interval):
                if not (conn.closed_by_server and conn.answered_at is not None):
                    # Reset, or closed before it ever answered: a failure, so that a
                    # server that hangs up at once cannot make us spin.
                    self._drop()
                    return HoldResult("keeper.reason.keepalive_closed", healthy)
                # A server that closes after every reply (HTTP/1.0: `python3 -m http.server`):
                # reconnect from the same port at the next tick instead of backing off.
                if not await self._reconnect(conn):
                    return HoldResult("keeper.reason.keepalive_lost", True)
                healthy = True
                alive()
                ticks += 1
                if ticks % max(1, self._timing.recheck_every) == 0 and await self._changed(recheck, mapping):
                    return HoldResult("keeper.reason.changed", healthy)
                continue
            try:
                await conn.ping(self._timing.reply_timeout)
            except NetworkError as exc:
                # The connection answered before (when it was opened, or last tick):
                # the mapping under it is what broke. Re-acquire at once; if the
                # network itself is down, acquiring fails and backs off.
                log.debug("keepalive failed: %s", exc)
                self._drop()
                return HoldResult("keeper.reason.keepalive_lost", True)
            healthy = True
            alive()
            ticks += 1
            if ticks % max(1, self._timing.recheck_every) == 0 and await self._changed(recheck, mapping):
                return HoldResult("keeper.reason.changed", healthy)

    async def _changed(self, recheck: Recheck, mapping: Mapping) -> bool:
        now = await recheck()
        if now is None:
            log.debug("STUN re-check: no server answered; the keepalive still works")
            return False
        return now.outer != mapping.outer

    async def _reconnect(self, conn: HttpKeepalive) -> bool:
        """One-shot server: wait out the interval since its last reply, then open a new
        connection from the same port (connect + ``HEAD /``). False: that failed."""
        conn.finish()
        self.conn = None
        assert conn.answered_at is not None
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, conn.answered_at + self._timing.keepalive_interval - loop.time()))
        try:
            self.conn = await self._open(conn.server)
        except NetworkError as exc:
            log.debug("keepalive %s: reconnecting failed: %s", conn.server, exc)
            return False
        log.debug("keepalive %s: reconnected from %s (the server closes after every reply)", conn.server, self._local)
        return True

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def aclose(self) -> None:
        self._drop()
