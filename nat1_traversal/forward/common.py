"""Small pieces shared by the TCP and UDP forwarders."""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import threading
import time
from collections.abc import Callable

from nat1_traversal.errors import NetworkError
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint
from nat1_traversal.net import SocketKind, reuse_socket

# A cap that bites under a flood must not flood the log as well; neither must any
# other per-connection warning (a backend that is down fails every connection).
CAP_LOG_WINDOW = 10.0


def show(addr: object) -> str:
    """``ip:port`` / ``[ip]:port`` for a socket address tuple (anything else as is)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = str(addr[0])
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr)


def source_of(addr: object) -> str:
    """What the per-source limits count by: the client's IPv4 address (also when
    IPv4-mapped), or its IPv6 /64, the block one home line gets (one user holds
    countless addresses in it)."""
    host = str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)
    if ":" not in host:
        return host
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    try:
        return str(ipaddress.IPv6Network((host.split("%", 1)[0], 64), strict=False))
    except ValueError:
        return host


def local_port(sockname: object) -> int | str:
    """The port of a ``getsockname()`` tuple, for the "via local port" log field."""
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return int(sockname[1])
    return "?"


def bind_reuse(kind: SocketKind, local: Endpoint) -> socket.socket:
    """``net.reuse_socket`` with the forwarder's own error message."""
    try:
        return reuse_socket(kind, local)
    except NetworkError as exc:
        cause = exc.__cause__
        error = (cause.strerror if isinstance(cause, OSError) else None) or cause or exc
        raise NetworkError("forward.bind_failed", local=str(local), kind=kind.upper(), error=error) from exc


class Throttle:
    """At most one log line per ``interval`` for one kind of per-event message.

    The first event of a quiet spell is logged at once. Later ones within the
    interval are only counted; the next line (the next event after the interval,
    or ``flush()`` once the interval is over) names the most recent event and says
    how many were left out, so a flood shows its true size in a few lines.
    Messages whose text has a ``{count}`` field (the caps) get the number of events
    the line stands for there; the others get a "N omitted" suffix.

    Thread-safe: the UDP relay thread and the event loop may both report. A
    caller with no periodic sweep passes ``call_later`` and gets its flush timer.
    """

    __slots__ = ("_call_later", "_counted", "_fields", "_interval", "_key", "_last", "_level", "_lock",
                 "_logger", "_pending", "_timer")

    def __init__(
        self,
        logger: logging.Logger,
        key: str,
        *,
        level: int = logging.WARNING,
        interval: float = CAP_LOG_WINDOW,
        counted: bool = False,
        call_later: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self._logger = logger
        self._key = key
        self._level = level
        self._interval = interval
        self._counted = counted
        self._call_later = call_later
        self._last = -math.inf
        self._pending = 0  # events since the last line, not logged yet
        self._fields: dict[str, object] = {}
        self._timer = False
        self._lock = threading.Lock()

    def __call__(self, **fields: object) -> None:
        with self._lock:
            now = time.monotonic()
            self._pending += 1
            self._fields = fields
            if now - self._last >= self._interval:
                self._emit(now)
            elif self._call_later is not None and not self._timer:
                self._timer = True
                self._call_later(self._last + self._interval - now + 0.001, self._flush_timer)

    def flush(self, *, force: bool = False) -> None:
        """Log what was left out, once the interval is over (``force``: now)."""
        with self._lock:
            now = time.monotonic()
            if self._pending and (force or now - self._last >= self._interval):
                self._emit(now)

    def _flush_timer(self) -> None:
        self._timer = False
        self.flush()

    def _emit(self, now: float) -> None:
        count, self._pending = self._pending, 0
        self._last = now
        if not self._logger.isEnabledFor(self._level):
            return
        fields = dict(self._fields)
        if self._counted:
            text = t(self._key, count=count, window=self._interval, **fields)
        else:
            text = t(self._key, **fields)
            if count > 1:
                text += t("forward.omitted", count=count - 1, window=self._interval)
        self._logger.log(self._level, text)
