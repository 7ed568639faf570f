"""One forwarded TCP connection: a client, its connection to ``remote``, and the
relay between them (the design notes are in ``tcp.py``).

A pair knows its forwarder only through ``PairOwner``: the shared receive buffer,
the settings, the throttled warnings and ``forget()``. Nothing here imports
``tcp.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import sys
import time
from typing import Literal, Protocol, cast

from nat1_traversal.forward.common import Throttle, local_port, show
from nat1_traversal.forward.proxy_protocol import proxy_header
from nat1_traversal.forward.splice import SpliceRelay
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint

logger = logging.getLogger("nat1_traversal.forward.tcp")

# One read may fill this much; larger reads mean fewer system calls per byte.
READ_BUFFER_SIZE = 256 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)


class PairOwner(Protocol):
    """What a pair needs from its forwarder."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    @property
    def shared(self) -> SharedBuffer: ...

    @property
    def writes_copy(self) -> bool: ...

    @property
    def splice_after(self) -> int: ...

    @property
    def remote(self) -> Endpoint: ...

    @property
    def proxy_protocol(self) -> Literal["v1", "v2"] | None: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def idle_timeout(self) -> float: ...

    @property
    def warn_connect(self) -> Throttle: ...

    @property
    def warn_timeout(self) -> Throttle: ...

    def forget(self, pair: Pair) -> bool: ...


class SharedBuffer:
    __slots__ = ("buf", "view")

    def __init__(self) -> None:
        self.buf = bytearray(READ_BUFFER_SIZE)
        self.view = memoryview(self.buf)

    def renew(self) -> None:
        """Start a fresh buffer: the old one is still referenced by a transport."""
        self.buf = bytearray(READ_BUFFER_SIZE)
        self.view = memoryview(self.buf)


class Side(asyncio.BufferedProtocol):
    """One socket of a forwarded connection; ``peer`` is the other one."""

    __slots__ = ("eof", "held", "lost", "nbytes", "pair", "peer", "transport")

    def __init__(self, pair: Pair, *, hold: bool = False) -> None:
        self.pair = pair
        # Bytes that arrived before remote was ready (None once forwarding):
        # a loop may read before Pair.run() pauses the client.
        self.held: bytearray | None = bytearray() if hold else None
        self.peer: Side | None = None
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


class Pair:
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

    def __init__(self, fwd: PairOwner, client_addr: object) -> None:
        self.fwd = fwd
        self.client = Side(self, hold=True)
        self.remote: Side | None = None
        self.client_addr = client_addr
        self.via: int | str = "?"
        self.started = self.last = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.connector: asyncio.Task[None] | None = None
        self.relay: SpliceRelay | None = None

    # -- life cycle -------------------------------------------------------------
    def side_made(self, side: Side) -> None:
        if side is self.client:
            self.accepted()
        else:
            assert side.transport is not None
            self.remote = side
            self.via = local_port(side.transport.get_extra_info("sockname"))

    def accepted(self) -> None:
        """The client's transport exists (``run()`` pauses it once it is set up)."""
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
        # Not read until remote is connected. Paused here, once the transport is set
        # up, not in connection_made(): CPython without the fix of gh-103607 (3.10,
        # early 3.11 such as Debian 12's 3.11.2) starts reading after
        # connection_made() even when it paused there, while is_reading() says
        # False, so no later pause_reading() stops it: everything the client sends
        # piles up in ``held`` until remote is connected, and a pair whose client
        # had sent it all by then never moves to splice. What a loop reads before
        # this point is held by buffer_updated() (which pauses too).
        client_t = self.client.transport
        assert client_t is not None
        client_t.pause_reading()
        await self._connect()

    async def _connect(self) -> None:
        fwd = self.fwd
        client_t = self.client.transport
        assert client_t is not None
        # Linked before connecting: remote may speak first (a banner, or EOF) and
        # its bytes go straight to the client. The client stays paused until the
        # PROXY header is queued.
        remote_side = Side(self)
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

    def side_lost(self, side: Side, exc: Exception | None) -> None:
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


def transports_copy_writes(loop: asyncio.AbstractEventLoop) -> bool:
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
