"""Zero-copy relay of an established TCP pair with Linux ``splice(2)``.

Bytes go socket -> pipe -> socket inside the kernel, never through Python
buffers: the forwarder pays two system calls per chunk and no copy. Used by
``tcp.py`` on the standard asyncio loop once a connection proves to be a bulk
transfer (uvloop's protocol path is faster than this there).

Each direction owns one pipe. It reads from its source only while its pipe is
empty, and while the pipe cannot be drained into the destination it stops
reading and waits for the destination to become writable: backpressure with at
most one pipe's worth of bytes in flight per direction. EOF from a source
becomes ``shutdown(SHUT_WR)`` on the destination once the pipe is drained (the
other direction keeps flowing); both directions ended -> both sockets closed.
An error on either socket (a reset) resets the other one too (SO_LINGER 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import struct
import sys
import time
from collections.abc import Callable

try:
    import fcntl
except ImportError:  # Windows: no splice either
    fcntl = None  # type: ignore[assignment]

# splice() moves at most what the pipe holds; a larger pipe means fewer calls
# per byte (measured on loopback: 64 KiB 8 Gbit/s at 0.8 CPU s/GB, 256 KiB 15 at
# 0.35, 1 MiB 16.5 at 0.24). Unprivileged users may be refused the size
# (fs.pipe-user-pages-soft); a pipe below MIN_PIPE_SIZE is not worth it and the
# pair stays on the protocol path.
PIPE_SIZE = 1024 * 1024
MIN_PIPE_SIZE = 64 * 1024
# Linux values (named in fcntl only from Python 3.10 on some builds).
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
_LINGER_RESET = struct.pack("ii", 1, 0)

# Done callback: None for an orderly end, the OSError for a reset/failure.
DoneCallback = Callable[["OSError | None"], None]


def splice_available(loop: asyncio.AbstractEventLoop) -> bool:
    """Linux with ``os.splice`` on a selector loop (add_reader on raw descriptors)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "splice")
        and fcntl is not None
        and isinstance(loop, asyncio.SelectorEventLoop)
    )


class _Direction:
    __slots__ = ("dst", "dst_sock", "eof", "moved", "pending", "pipe_r", "pipe_w", "shut", "src", "waiting")

    def __init__(self, src: socket.socket, dst: socket.socket, pipe_r: int, pipe_w: int) -> None:
        self.src = src.fileno()
        self.dst = dst.fileno()
        self.dst_sock = dst
        self.pipe_r = pipe_r
        self.pipe_w = pipe_w
        self.pending = 0  # bytes in the pipe, not yet in dst
        self.moved = 0
        self.eof = False  # src ended
        self.shut = False  # EOF passed on to dst
        self.waiting = False  # waiting for dst to become writable


class SpliceRelay:
    """Relays two connected non-blocking sockets (owned from now on) both ways."""

    __slots__ = ("_dirs", "_done", "_loop", "_socks", "closed", "last")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, a: socket.socket, b: socket.socket, done: DoneCallback
    ) -> None:
        self._loop = loop
        self._socks = (a, b)
        self._done = done
        self.closed = False
        self.last = time.monotonic()
        pipes: list[int] = []
        try:
            for _ in range(2):
                r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
                pipes += (r, w)
                with contextlib.suppress(OSError):
                    fcntl.fcntl(w, _F_SETPIPE_SZ, PIPE_SIZE)
                if fcntl.fcntl(w, _F_GETPIPE_SZ) < MIN_PIPE_SIZE:
                    raise OSError(errno.ENOBUFS, "pipe too small for splice")
        except OSError:
            for fd in pipes:
                os.close(fd)
            raise
        self._dirs = (_Direction(a, b, pipes[0], pipes[1]), _Direction(b, a, pipes[2], pipes[3]))

    @property
    def moved(self) -> tuple[int, int]:
        """Bytes moved a -> b and b -> a."""
        return self._dirs[0].moved, self._dirs[1].moved

    def start(self) -> None:
        for d in self._dirs:
            self._loop.add_reader(d.src, self._readable, d)

    # -- the hot path -------------------------------------------------------------
    def _readable(self, d: _Direction) -> None:
        try:
            n = os.splice(d.src, d.pipe_w, PIPE_SIZE, flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.close(exc)
            return
        if n == 0:
            d.eof = True
            self._loop.remove_reader(d.src)
            if not d.pending:
                self._shut(d)
            return
        d.pending += n
        d.moved += n
        self.last = time.monotonic()
        self._flush(d)

    def _flush(self, d: _Direction) -> None:
        try:
            while d.pending:
                n = os.splice(d.pipe_r, d.dst, d.pending, flags=os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK)
                if n <= 0:
                    raise BlockingIOError
                d.pending -= n
        except (BlockingIOError, InterruptedError):
            if not d.waiting:  # stop reading until dst drains
                d.waiting = True
                if not d.eof:
                    self._loop.remove_reader(d.src)
                self._loop.add_writer(d.dst, self._flush, d)
            return
        except OSError as exc:
            self.close(exc)
            return
        if d.waiting:
            d.waiting = False
            self._loop.remove_writer(d.dst)
            if not d.eof:
                self._loop.add_reader(d.src, self._readable, d)
        if d.eof:
            self._shut(d)

    # -- endings ------------------------------------------------------------------
    def _shut(self, d: _Direction) -> None:
        d.shut = True
        try:
            d.dst_sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self.close(exc)
            return
        if all(x.shut for x in self._dirs):
            self.close(None)

    def close(self, exc: OSError | None = None, *, reset: bool | None = None) -> None:
        """End the relay: orderly (``exc`` None) or passing a reset on (``exc`` set,
        or ``reset=True``). Idempotent; calls the done callback once."""
        if self.closed:
            return
        self.closed = True
        loop = self._loop
        for d in self._dirs:
            loop.remove_reader(d.src)
            loop.remove_writer(d.dst)
            os.close(d.pipe_r)
            os.close(d.pipe_w)
        if reset is None:
            reset = exc is not None
        for sock in self._socks:
            if reset:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            sock.close()
        self._done(exc)
