"""The TCP forwarder: every accepted connection on ``local`` is relayed to ``remote``.

Design (measured in ``bench/``; see bench/RESULTS.md):

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
import contextlib
import errno
import ipaddress
import logging
import os
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Literal, cast

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import limits
from nat1_traversal.forward.common import Throttle, bind_reuse, local_port, show
from nat1_traversal.forward.proxy_protocol import proxy_header
from nat1_traversal.forward.splice import SpliceRelay, splice_available
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint
from nat1_traversal.net import family_of, local_endpoint

logger = logging.getLogger(__name__)

# One read may fill this much; larger reads mean fewer system calls per byte.
READ_BUFFER_SIZE = 256 * 1024
LISTEN_BACKLOG = 511
_LINGER_RESET = struct.pack("ii", 1, 0)
# Bytes one direction moves before the pair switches to splice (where available).
SPLICE_AFTER = 256 * 1024
_NEVER = sys.maxsize
# Connections accepted per wake-up of the listening socket.
ACCEPT_BATCH = 64
# How long accepting pauses when the process is out of descriptors.
ACCEPT_PAUSE = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _SharedBuffer:
    __slots__ = ("buf", "view")

    def __init__(self) -> None:
        self.buf = bytearray(READ_BUFFER_SIZE)
        self.view = memoryview(self.buf)

    def renew(self) -> None:
        """Start a fresh buffer: the old one is still referenced by a transport."""
        self.buf = bytearray(READ_BUFFER_SIZE)
        self.view = memoryview(self.buf)


class _Side(asyncio.BufferedProtocol):
    """One socket of a forwarded connection; ``peer`` is the other one."""

    __slots__ = ("eof", "held", "lost", "nbytes", "pair", "peer", "transport")

    def __init__(self, pair: _Pair, *, hold: bool = False) -> None:
        self.pair = pair
        # Bytes that arrived before remote was ready (None once forwarding):
        # uvloop starts reading after connection_made() even when it paused.
        self.held: bytearray | None = bytearray() if hold else None
        self.peer: _Side | None = None
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.lost = False
        self.nbytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        _set_nodelay(transport)
        self.pair.side_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.pair.fwd.shared.view

    def buffer_updated(self, nbytes: int) -> None:
        pair = self.pair
        self.nbytes += nbytes
        pair.last = time.monotonic()
        if self.held is not None:
            self.held += pair.fwd.shared.view[:nbytes]
            if self.transport is not None:
                self.transport.pause_reading()
            return
        peer = self.peer
        if peer is None or peer.transport is None or peer.lost:
            return
        out = peer.transport
        shared = pair.fwd.shared
        out.write(shared.view[:nbytes])
        if out.get_write_buffer_size():
            if not pair.fwd.writes_copy:
                shared.renew()
        elif self.nbytes >= pair.fwd.splice_after:
            pair.to_splice()

    def eof_received(self) -> bool:
        self.eof = True
        if self.held is not None:
            return True  # passed on once remote is ready
        peer = self.peer
        if peer is None or peer.transport is None or peer.lost:
            return False
        if peer.eof:
            # Both directions ended: close both (close() flushes what is queued).
            self.pair.close()
            return True
        out = peer.transport
        if out.can_write_eof() and not out.is_closing():
            out.write_eof()
            return True
        return False

    def pause_writing(self) -> None:
        # Our outgoing buffer is full: stop reading from the side that fills it.
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.eof and not peer.lost:
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.eof and not peer.lost:
            peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pair.relay is not None:
            return  # the transport was left for splice: the socket lives on
        self.lost = True
        self.pair.side_lost(self, exc)


class _Pair:
    """A client connection and its connection to ``remote``."""

    __slots__ = (
        "client",
        "client_addr",
        "connector",
        "fwd",
        "last",
        "relay",
        "remote",
        "started",
        "timer",
        "via",
    )

    def __init__(self, fwd: TcpForwarder, client_addr: object) -> None:
        self.fwd = fwd
        self.client = _Side(self, hold=True)
        self.remote: _Side | None = None
        self.client_addr = client_addr
        self.via: int | str = "?"
        self.started = self.last = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.connector: asyncio.Task[None] | None = None
        self.relay: SpliceRelay | None = None

    # -- life cycle -------------------------------------------------------------
    def side_made(self, side: _Side) -> None:
        if side is self.client:
            self.accepted()
        else:
            assert side.transport is not None
            self.remote = side
            self.via = local_port(side.transport.get_extra_info("sockname"))

    def accepted(self) -> None:
        """The client's transport exists: hold its bytes until remote is connected."""
        transport = self.client.transport
        assert transport is not None
        transport.pause_reading()
        self.timer = self.fwd.loop.call_later(self.fwd.idle_timeout, self._check_idle)

    async def run(self, conn: socket.socket) -> None:
        """The client is in (under the caps): make its transport, then connect to remote."""
        try:
            await self.fwd.loop.connect_accepted_socket(lambda: self.client, conn)
        except OSError as exc:  # the client is gone already, or no memory for it
            logger.debug("client %s lost before forwarding: %s", show(self.client_addr), exc)
            self.connector = None
            conn.close()
            self.client.lost = True
            self._finished()
            return
        await self._connect()

    async def _connect(self) -> None:
        fwd = self.fwd
        client_t = self.client.transport
        assert client_t is not None
        # Linked before connecting: remote may speak first (a banner, or EOF) and
        # its bytes go straight to the client. The client stays paused until the
        # PROXY header is queued.
        remote_side = _Side(self)
        remote_side.peer = self.client
        self.client.peer = remote_side
        host, port = fwd.remote.sockaddr()
        try:
            await asyncio.wait_for(
                fwd.loop.create_connection(lambda: remote_side, host, port), fwd.connect_timeout
            )
        except asyncio.TimeoutError:
            fwd.warn_timeout(client=show(self.client_addr), remote=fwd.remote, timeout=fwd.connect_timeout)
            client_t.abort()
            return
        except OSError as exc:
            fwd.warn_connect(client=show(self.client_addr), remote=fwd.remote, error=exc.strerror or exc)
            client_t.abort()
            return
        finally:
            self.connector = None
        remote_t = remote_side.transport
        assert remote_t is not None
        if self.client.lost:
            remote_t.close()
            return
        if fwd.proxy_protocol is not None:
            remote_t.write(
                proxy_header(fwd.proxy_protocol, client_t.get_extra_info("peername"),
                             client_t.get_extra_info("sockname"))
            )
        held, self.client.held = self.client.held, None
        if held:
            remote_t.write(held)
        logger.info(t("forward.tcp_open", client=show(self.client_addr), via=self.via, remote=fwd.remote))
        if not self.client.eof:
            client_t.resume_reading()
        elif remote_side.eof:
            self.close()
        else:
            remote_t.write_eof()

    def to_splice(self) -> None:
        """Continue this pair with splice (called when bulk and nothing is queued)."""
        client, remote = self.client, self.remote
        if remote is None or client.eof or remote.eof or client.lost or remote.lost:
            return
        ct, rt = client.transport, remote.transport
        if (ct is None or rt is None or ct.is_closing() or rt.is_closing()
                or ct.get_write_buffer_size() or rt.get_write_buffer_size()):
            return
        fwd = self.fwd
        dups: list[socket.socket] = []
        try:
            for transport in (ct, rt):
                fd = os.dup(transport.get_extra_info("socket").fileno())
                try:
                    dups.append(socket.socket(fileno=fd))
                except OSError:
                    os.close(fd)
                    raise
                dups[-1].setblocking(False)
            relay = SpliceRelay(fwd.loop, dups[0], dups[1], self._relay_done)
        except OSError as exc:  # out of descriptors: stay on the protocol path
            logger.debug("splice unavailable for %s: %s", show(self.client_addr), exc)
            for sock in dups:
                sock.close()
            return
        # Stop both transports (this also cancels read callbacks already queued)
        # and close them: only their descriptors go, the duplicates keep the
        # connection. connection_lost() ignores these closes.
        self.relay = relay
        for transport in (ct, rt):
            transport.pause_reading()
            transport.close()
        relay.start()

    def _relay_done(self, exc: OSError | None) -> None:
        relay = self.relay
        assert relay is not None
        up, down = relay.moved
        self.client.nbytes += up
        self.client.lost = True
        if self.remote is not None:
            self.remote.nbytes += down
            self.remote.lost = True
        if exc is not None:
            logger.debug("spliced connection of %s ended: %s", show(self.client_addr), exc)
        self._finished()

    def _check_idle(self) -> None:
        if self.relay is not None:
            self.last = max(self.last, self.relay.last)
        idle_for = time.monotonic() - self.last
        timeout = self.fwd.idle_timeout
        if idle_for < timeout:
            self.timer = self.fwd.loop.call_later(timeout - idle_for, self._check_idle)
            return
        self.timer = None
        logger.info(t("forward.tcp_idle", client=show(self.client_addr), timeout=timeout))
        self.abort()

    def close(self) -> None:
        """Orderly close of both sides (queued bytes are still sent)."""
        if self.relay is not None:
            self.relay.close()
            return
        for side in (self.client, self.remote):
            if side is not None and side.transport is not None and not side.lost:
                side.transport.close()

    def abort(self) -> None:
        if self.relay is not None:
            self.relay.close()
            return
        if self.connector is not None:
            self.connector.cancel()
        for side in (self.client, self.remote):
            if side is not None and side.transport is not None and not side.lost:
                side.transport.abort()

    def side_lost(self, side: _Side, exc: Exception | None) -> None:
        other = self.remote if side is self.client else self.client
        if other is not None and other.transport is not None and not other.lost:
            if exc is None:
                other.transport.close()
            else:
                _reset(other.transport)
        if side is self.client and self.connector is not None:
            self.connector.cancel()
        if self.client.lost and (self.remote is None or self.remote.lost):
            self._finished()

    def _finished(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.fwd.forget(self) and self.remote is not None:
            logger.info(
                t("forward.tcp_close", client=show(self.client_addr), up=self.client.nbytes,
                  down=self.remote.nbytes, duration=time.monotonic() - self.started)
            )


def _transports_copy_writes(loop: asyncio.AbstractEventLoop) -> bool:
    """CPython < 3.12 selector transports copy unsent bytes into their own buffer,
    so the shared buffer can be reused at once; anything else (CPython >= 3.12
    keeps memoryviews, uvloop, other loops) gets a fresh buffer to be safe."""
    return sys.version_info < (3, 12) and isinstance(loop, asyncio.SelectorEventLoop)


def _set_nodelay(transport: asyncio.BaseTransport) -> None:
    # Game traffic is latency-bound: never wait to coalesce small writes.
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _reset(transport: asyncio.Transport) -> None:
    """Abort with RST (SO_LINGER 0) so the other end learns of the reset too."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


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
        self.shared = _SharedBuffer()
        # True when the loop's transports copy what they cannot send at once.
        self.writes_copy = False
        # Bytes one direction moves before a pair switches to splice (_NEVER: never).
        self.splice_after = _NEVER
        self._pairs: set[_Pair] = set()
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
        self.writes_copy = _transports_copy_writes(self._loop)
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
        source = _source_of(addr)
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
        pair = _Pair(self, addr)
        self._pairs.add(pair)
        pair.connector = self.loop.create_task(pair.run(conn))

    def forget(self, pair: _Pair) -> bool:
        if pair not in self._pairs:
            return False
        self._pairs.remove(pair)
        source = _source_of(pair.client_addr)
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


def _source_of(addr: object) -> str:
    """The client's address without its port (IPv4-mapped IPv6 as IPv4)."""
    if isinstance(addr, tuple) and addr:
        host = str(addr[0])
        return host[7:] if host.startswith("::ffff:") and "." in host else host
    return str(addr)


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
