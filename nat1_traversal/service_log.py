"""The ``[<name>] `` prefix of every log line that belongs to a service (SPEC section 11).

The supervisor starts each service's task in a context where ``SERVICE`` holds the
service's name, and only when there are two or more services. Every task and
callback the service starts inherits that context (asyncio copies it), so library
code logs as before: a record factory puts the prefix in front of the message, after
the level (with ``-d`` after the time and source). Threads do not inherit a context:
``blocking.in_daemon_thread`` runs its function in a copy of the caller's.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

SERVICE: ContextVar[str | None] = ContextVar("nat1_service", default=None)


def install() -> None:
    """Add the prefix to the record factory, once (the redacting factory of ``log`` stays below)."""
    old = logging.getLogRecordFactory()
    if getattr(old, "_nat1_service_prefix", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old(*args, **kwargs)
        name = SERVICE.get()
        if name is None:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            return record
        record.msg = f"[{name}] {message}"
        record.args = None
        return record

    factory._nat1_service_prefix = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
