"""Small pieces shared by the TCP and UDP forwarders."""

from __future__ import annotations

import logging
import socket
import time

from nat1_traversal.errors import NetworkError
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint
from nat1_traversal.net import SocketKind, reuse_socket

# A cap that bites under a flood must not flood the log as well.
CAP_LOG_WINDOW = 10.0


def show(addr: object) -> str:
    """``ip:port`` / ``[ip]:port`` for a socket address tuple (anything else as is)."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = str(addr[0])
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr)


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


class CapLogger:
    """Logs "limit reached" at most once per window, with how many were refused."""

    __slots__ = ("_key", "_last", "_limit", "_logger", "_refused")

    def __init__(self, logger: logging.Logger, key: str, limit: int) -> None:
        self._logger = logger
        self._key = key
        self._limit = limit
        self._last = -CAP_LOG_WINDOW
        self._refused = 0

    def refused(self, client: object) -> None:
        self._refused += 1
        now = time.monotonic()
        if now - self._last >= CAP_LOG_WINDOW:
            self._logger.warning(
                t(self._key, limit=self._limit, client=show(client), window=CAP_LOG_WINDOW, count=self._refused)
            )
            self._last = now
            self._refused = 0
