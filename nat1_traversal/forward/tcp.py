"""The TCP forwarder: every accepted connection on ``local`` is relayed to ``remote``.

Design (measured in ``bench/``; see bench/RESULTS.md):

* ``tcp_pair.py`` holds one connection (``Pair``, two ``Side`` protocols); this
  module accepts, applies the caps and owns the shared buffer.
* Both halves of a connection are ``asyncio.BufferedProtocol`` instances reading
  into ONE receive buffer shared by the whole forwarder: the event loop runs one
  callback at a time, so ``get_buffer`` -> ``buffer_updated`` never interleave, and an
  idle connection owns no buffer at all (a few KiB of RSS per connection).
  Whatever a transport could not send at once stays in that transport's own
  buffer; some event loops (CPython >= 3.12, uvloop) keep a *view* of our bytes
  instead of a copy, so when a write leaves data behind we move on to a fresh
  shared buffer rather than overwrite bytes still queued.
* Flow control at protocol level: when one transport's write buffer passes its
  high-water mark (``pause_writing``), reading from the other side stops until it
  drains (``resume_writing``). Memory stays bounded with a slow reader.
* Half-close: EOF from one side becomes ``write_eof`` (FIN after the queued data)
  towards the other; the other direction keeps flowing until it ends too.
* The client is not read until ``remote`` accepted and the PROXY header (if any)
  was queued, so the header is always the first bytes ``remote`` sees.
* A connection reset by one side is passed on as a reset (SO_LINGER 0) to the other.
* Bulk transfers on Linux with the standard asyncio loop: once one direction of a
  pair has moved ``SPLICE_AFTER`` bytes and neither transport holds unsent bytes,
  the pair leaves its transports (their sockets are duplicated first, so closing
  the transports does not end the connection) and continues in ``splice.py``,
  zero-copy. Short and interactive connections never pay for the pipes; on uvloop
  the protocol path is faster and stays.

* Accepting is ours (``add_reader`` on the listening socket, ``connect_accepted_socket``
  per client): the caps (in all, and per source address) refuse a client before
  any transport exists, and when the process is out of descriptors (EMFILE/ENFILE)
  accepting pauses, one warning per interval, until a connection closes or
  ``ACCEPT_PAUSE`` passes; the kernel's backlog holds the waiting clients.
* Before listening, a trial bind without SO_REUSEPORT tells whether someone else
  already listens on the port (a second instance would silently take about half
  of the players through SO_REUSEPORT's load balancing): that is refused.
* Every per-connection warning goes through a ``Throttle``: one line per interval
  and kind, saying how many were left out.

The forwarder does not know about the NAT mapping: a remap never touches it.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable
from typing import Literal

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import limits
from nat1_traversal.forward.common import Throttle, bind_reuse, show, source_of
from nat1_traversal.forward.splice import splice_available
from nat1_traversal.forward.tcp_pair import Pair, SharedBuffer, transports_copy_writes
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint
from nat1_traversal.net import family_of, local_endpoint

logger = logging.getLogger(__name__)

__all__ = ["ACCEPT_PAUSE", "LISTEN_BACKLOG", "SPLICE_AFTER", "TcpForwarder"]

LISTEN_BACKLOG = 511
# Bytes one direction moves before the pair switches to splice (where available).
SPLICE_AFTER = 256 * 1024
_NEVER = sys.maxsize
# Connections accepted per wake-up of the listening socket.
ACCEPT_BATCH = 64
# How long accepting pauses when the process is out of descriptors.
ACCEPT_PAUSE = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class TcpForwarder:
    """Accepts TCP connections on ``local`` and relays each one to ``remote``."""

    def __init__(
        self,
        local: Endpoint,
        remote: Endpoint,
        *,
        proxy_protocol: Literal["v1", "v2"] | None = None,
        max_connections: int = 512,
        max_per_source: int = 64,
        connect_timeout: float = 10.0,
        idle_timeout: float = 7200.0,
    ) -> None:
        self.local = local
        self.remote = remote
        self.proxy_protocol = proxy_protocol
        self.max_connections = max_connections
        self.max_per_source = max_per_source
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.shared = SharedBuffer()
        # True when the loop's transports copy what they cannot send at once.
        self.writes_copy = False
        # Bytes one direction moves before a pair switches to splice (_NEVER: never).
        self.splice_after = _NEVER
        self._pairs: set[Pair] = set()
        self._per_source: dict[str, int] = {}
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._resume: asyncio.TimerHandle | None = None
        self._reserved = 0
        self._cap_log = self._throttle("forward.tcp_cap", counted=True)
        self._source_log = self._throttle("forward.tcp_source_cap", counted=True)
        self._pause_log = self._throttle("forward.accept_paused")
        self.warn_connect = self._throttle("forward.connect_failed")
        self.warn_timeout = self._throttle("forward.connect_timeout")

    def _throttle(self, key: str, *, counted: bool = False) -> Throttle:
        return Throttle(logger, key, counted=counted, call_later=self._call_later)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> object:
        return self.loop.call_later(delay, callback)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def bound(self) -> Endpoint:
        if self._sock is None:
            raise RuntimeError("TcpForwarder.start() has not run")
        return local_endpoint(self._sock)

    @property
    def connections(self) -> int:
        """Live forwarded connections (including those still connecting to remote)."""
        return len(self._pairs)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.writes_copy = transports_copy_writes(self._loop)
        if splice_available(self._loop):
            self.splice_after = SPLICE_AFTER
        _refuse_other_listener(self.local)
        sock = bind_reuse("tcp", self.local)
        try:
            sock.setblocking(False)
            sock.listen(LISTEN_BACKLOG)
        except OSError as exc:
            sock.close()
            raise NetworkError(
                "forward.bind_failed", local=str(self.local), kind="TCP", error=exc.strerror or exc
            ) from exc
        # Two descriptors per pair (client and remote); splice's extra ones are
        # optional (a pair that cannot get them stays on the protocol path).
        self.max_connections = limits.reserve(self.max_connections, 2, self.max_connections, "forward.what_tcp")
        self._reserved = self.max_connections * 2
        self._sock = sock
        self._start_accepting()
        logger.info(t("forward.tcp_listening", local=self.bound, remote=self.remote))

    # -- accepting --------------------------------------------------------------
    def _start_accepting(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._sock is not None and not self._reading:
            self.loop.add_reader(self._sock.fileno(), self._on_acceptable)
            self._reading = True

    def _stop_accepting(self) -> None:
        if self._reading and self._sock is not None:
            self.loop.remove_reader(self._sock.fileno())
        self._reading = False

    def _on_acceptable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause(exc)
                    return
                logger.debug("accept on %s: %s", self.local, exc)  # ECONNABORTED and the like
                continue
            self._accepted(conn, addr)

    def _pause(self, exc: OSError) -> None:
        """Out of descriptors: stop accepting until a connection closes or a moment passes."""
        self._stop_accepting()
        if self._resume is None:
            self._resume = self.loop.call_later(ACCEPT_PAUSE, self._start_accepting)
        self._pause_log(error=exc.strerror or exc, delay=ACCEPT_PAUSE, connections=len(self._pairs))

    def _accepted(self, conn: socket.socket, addr: object) -> None:
        source = source_of(addr)
        if len(self._pairs) >= self.max_connections:
            self._cap_log(limit=self.max_connections, client=show(addr))
            _refuse(conn)
            return
        held = self._per_source.get(source, 0)
        if held >= self.max_per_source:
            self._source_log(limit=self.max_per_source, source=source, client=show(addr))
            _refuse(conn)
            return
        self._per_source[source] = held + 1
        try:
            conn.setblocking(False)
        except OSError:
            conn.close()
            self._per_source[source] = held
            return
        pair = Pair(self, addr)
        self._pairs.add(pair)
        pair.connector = self.loop.create_task(pair.run(conn))

    def forget(self, pair: Pair) -> bool:
        if pair not in self._pairs:
            return False
        self._pairs.remove(pair)
        source = source_of(pair.client_addr)
        held = self._per_source.get(source, 0) - 1
        if held > 0:
            self._per_source[source] = held
        else:
            self._per_source.pop(source, None)
        if not self._reading and self._sock is not None:
            self._start_accepting()  # descriptors freed: try again now
        return True

    async def aclose(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._reading:
            self.loop.remove_reader(sock.fileno())
            self._reading = False
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        sock.close()
        connectors = [p.connector for p in self._pairs if p.connector is not None]
        for pair in list(self._pairs):
            pair.abort()
        if connectors:
            await asyncio.gather(*connectors, return_exceptions=True)
        for throttle in (self._cap_log, self._source_log, self._pause_log, self.warn_connect, self.warn_timeout):
            throttle.flush(force=True)
        limits.release(self._reserved)
        self._reserved = 0


def _refuse(conn: socket.socket) -> None:
    """Close an accepted connection at once: the client sees it end before any byte
    (a reset instead can beat its own connect() and read as "connect failed")."""
    conn.close()


def _refuse_other_listener(local: Endpoint) -> None:
    """A trial bind without SO_REUSEPORT fails while anyone listens on the port."""
    if local.port == 0 or not hasattr(socket, "SO_REUSEPORT"):
        return  # an ephemeral port is ours alone; Windows cannot share a listener this way
    family = family_of(local)
    with socket.socket(family, socket.SOCK_STREAM) as trial:
        # SO_REUSEADDR: connections in TIME_WAIT (or the keeper's, not listening) do not count.
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and local.ip == ipaddress.IPv6Address("::"):
            trial.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            trial.bind(local.sockaddr())
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise NetworkError("forward.port_taken", local=str(local)) from exc
            # Anything else (no such address, no permission): the real bind says it.
