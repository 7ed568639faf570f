"""The only module that touches Apprise: parse a URL, send one message, keep Apprise quiet.

Apprise logs through the ``apprise`` logger, and at DEBUG it prints request URLs and
payloads, which hold the tokens of the notification URLs. So that nothing of it can
reach the user's log (also with ``-d``), the logger is cut off here, before Apprise is
imported: it does not propagate, and its only handler keeps the WARNING+ lines of the
call in progress, in the calling thread, so that a failure can say why. Those lines
are shown through our own logger, after redaction of every registered secret.

Every function here blocks (Apprise uses ``requests``): call them from a thread.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

APPRISE_LOGGER = "apprise"
# A reason longer than this is cut: an error page quoted whole is not a reason.
_MAX_REASON = 200


class _ThreadCapture(logging.Handler):
    """Collects the messages of the current thread while ``capture()`` is active."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines: list[str] | None = getattr(self._local, "lines", None)
        if lines is not None:
            try:
                lines.append(record.getMessage())
            except Exception:  # a broken format string must not break the send
                lines.append(str(record.msg))

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        lines: list[str] = []
        self._local.lines = lines
        try:
            yield lines
        finally:
            self._local.lines = None


def _quiet_apprise() -> _ThreadCapture:
    logger = logging.getLogger(APPRISE_LOGGER)
    for handler in logger.handlers:
        if isinstance(handler, _ThreadCapture):
            return handler
    capture = _ThreadCapture()
    logger.handlers[:] = [capture]
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    return capture


_CAPTURE = _quiet_apprise()

import apprise  # noqa: E402  # only after its logger is cut off (see above)


class Plugin(Protocol):
    def notify(self, body: str, title: str = ...) -> bool: ...


# Apprise quotes URLs in its messages, shortened ("tgram://1...n/"): the scheme is enough.
_QUOTED_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,15})://\S*")


def _reason(lines: list[str]) -> str:
    text = " / ".join(line.strip() for line in lines if line.strip())
    text = _QUOTED_URL.sub(r"\1://…", text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def load(url: str) -> tuple[Plugin | None, str]:
    """The Apprise service for ``url``, or None and Apprise's reason."""
    with _CAPTURE.capture() as lines, warnings.catch_warnings():
        # The first call imports every Apprise plugin; some import modules that newer
        # Pythons deprecate (imghdr), which is Apprise's business, not the user's.
        warnings.simplefilter("ignore", DeprecationWarning)
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return None, _reason(lines)
    return plugin, ""


def check_url(url: str) -> str | None:
    """None when Apprise can use ``url``; else its reason (maybe empty)."""
    plugin, reason = load(url)
    return None if plugin is not None else reason


def send(plugin: Plugin, title: str, body: str) -> tuple[bool, str]:
    """Send one message; ``(delivered, Apprise's reason when not)``."""
    with _CAPTURE.capture() as lines:
        try:
            delivered = bool(plugin.notify(body=body, title=title))
        except Exception as exc:  # a plugin bug must not end the notifier
            return False, f"{type(exc).__name__}: {exc}"
    return delivered, "" if delivered else _reason(lines)
