"""Logging set-up: the SPEC section 9 format, debug toggles and secret redaction.

Only the CLI calls ``setup_logging``; every module just uses
``logging.getLogger(__name__)``. Redaction happens twice on purpose:

* a record factory rewrites each record's message as it is created, so every
  handler (also pytest's ``caplog``) sees the redacted text;
* the formatter redacts the final line again, which covers exception text and
  anything a third-party library put into ``args`` lazily.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TextIO

from nat1_traversal.model import Secret
from nat1_traversal.text import printable

MASK = "******"
# Secrets shorter than this are not masked on their own: masking every "1" in a
# log would make the logs useless and protect nothing.
_MIN_SECRET_LEN = 4

# Credentials that appear in headers, query strings and JSON bodies, whatever the
# configured secrets are: bearer tokens, Cloudflare keys, TC3/ACS/AliDNS signatures.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|tc3-hmac-sha256|acs3-hmac-sha256)\s+)?([^\s'\",}]+(?:[^'\"\n}]*)?)"),
    re.compile(r"(?i)(x-auth-key['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+)"),
    re.compile(r"(?i)((?<![a-z])signature['\"]?\s*[:=]\s*['\"]?)([^\s&'\",}]+)"),
    re.compile(r"(?i)(['\"]?(?:token|secret|secretkey|accesskeysecret|key_secret)['\"]?\s*[:=]\s*['\"])([^'\"]+)"),
)


class Redactor:
    """Knows the configured secrets and masks them (and credential patterns) in text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | Secret | None) -> None:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and len(value) >= _MIN_SECRET_LEN:
            with self._lock:
                self._secrets.add(value)

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(_mask_match, text)
        return text


def _mask_match(match: re.Match[str]) -> str:
    groups = match.groups()
    prefix = groups[0]
    scheme = groups[1] if len(groups) == 3 else None
    return f"{prefix}{scheme + ' ' if scheme else ''}{MASK}"


REDACTOR = Redactor()


def _install_record_factory() -> None:
    old = logging.getLogRecordFactory()
    if getattr(old, "_nat1_redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old(*args, **kwargs)
        record.args = _printable_args(record.args)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return record
        record.msg = REDACTOR.redact(message)
        record.args = None
        return record

    factory._nat1_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _printable_args(args: tuple[object, ...] | Mapping[str, object] | None,
                    ) -> tuple[object, ...] | Mapping[str, object] | None:
    """``%s`` arguments that are text (peer strings: reasons, names, bodies) are escaped."""
    if isinstance(args, tuple):
        return tuple(printable(a) if isinstance(a, str) else a for a in args)
    if isinstance(args, Mapping):
        return {k: printable(v) if isinstance(v, str) else v for k, v in args.items()}
    return args


def unforgeable(text: str) -> str:
    """A formatted record as it may reach the terminal: control characters other than
    the newline escaped, and every continuation line indented, so that no text inside
    a record can start a line that looks like a record of its own (``[   ERROR] ...``)."""
    lines = [printable(line) for line in text.split("\n")]
    return "\n".join([lines[0], *(line if line.startswith(" ") else "  " + line for line in lines[1:])])


_install_record_factory()


class Nat1Formatter(logging.Formatter):
    """``[    INFO] message``; with debug, time and source are added."""

    PLAIN = "[%(levelname)8s] %(message)s"
    DEBUG = "[%(levelname)8s] %(asctime)s.%(msecs)03d %(name)s:%(lineno)d %(message)s"

    def __init__(self, debug: bool) -> None:
        super().__init__(self.DEBUG if debug else self.PLAIN, datefmt="%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return unforgeable(REDACTOR.redact(super().format(record)))


_handler: logging.Handler | None = None


def setup_logging(debug: bool, stream: TextIO | None = None) -> None:
    """Configure the root logger once (the CLI calls this); safe to call again."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream or sys.stderr)
    _handler.setFormatter(Nat1Formatter(debug))
    root.addHandler(_handler)
    set_debug(debug)


def format_line(level: int, message: str) -> str:
    """One record formatted as the handler would, without writing it (for signal handlers)."""
    record = logging.LogRecord("nat1_traversal", level, __file__, 0, message, None, None)
    formatter = _handler.formatter if _handler is not None else None
    return (formatter or Nat1Formatter(False)).format(record)


def set_debug(debug: bool) -> None:
    """Switch DEBUG on or off at run time (format included)."""
    level = logging.DEBUG if debug else logging.INFO
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("nat1_traversal").setLevel(level)
    if _handler is not None:
        _handler.setFormatter(Nat1Formatter(debug))


def register_secrets(secrets: Iterable[str | Secret | None]) -> None:
    for secret in secrets:
        REDACTOR.add(secret)


def url_secrets(url: str | None) -> list[str]:
    """The parts of a URL that may be credentials: a password, query values, and path
    segments that look like keys (Discord/Slack/WeCom webhooks put the token in the path)."""
    if not url or "://" not in url:
        return []
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [value for _, value in parse_qsl(parts.query)]
    except ValueError:
        return []
    for segment in parts.path.split("/"):
        if _looks_like_key(unquote(segment)):
            found += [segment] if unquote(segment) == segment else [segment, unquote(segment)]
    return found


def _looks_like_key(segment: str) -> bool:
    """Long, or mixing letters and digits: ``123456789012345678``, ``T0ABC1234``, a token.
    Words such as ``api``, ``webhooks``, ``services``, ``hook`` stay readable."""
    if len(segment) >= 16:
        return True
    return len(segment) >= 8 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def install_debug_signals(add_handler: Callable[[int, Callable[[], None]], None]) -> bool:
    """SIGUSR1 turns debug on, SIGUSR2 off, where the OS has them (not Windows).

    ``add_handler`` is ``loop.add_signal_handler``. Returns whether installed.
    """
    usr1 = getattr(signal, "SIGUSR1", None)
    usr2 = getattr(signal, "SIGUSR2", None)
    if usr1 is None or usr2 is None:
        return False
    add_handler(usr1, lambda: _toggle(True))
    add_handler(usr2, lambda: _toggle(False))
    return True


def _toggle(debug: bool) -> None:
    from nat1_traversal.i18n import t

    set_debug(debug)
    logging.getLogger(__name__).warning(t("cli.debug_on" if debug else "cli.debug_off"))
