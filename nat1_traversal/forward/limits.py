"""Descriptors for the caps: the soft RLIMIT_NOFILE is raised (up to the hard limit)
to what the forwarders of this process need, or a cap is lowered to fit.

The usual soft limit is 1,024, while the default caps need more (512 TCP pairs
are 1,024 sockets). A process that runs out of descriptors fails accept(),
socket() and pipe() all at once; it is better to know the ceiling at start.
"""

from __future__ import annotations

import logging
import sys
import threading

from nat1_traversal.i18n import t

if sys.platform != "win32":
    import resource

logger = logging.getLogger(__name__)

# Descriptors kept for everything else in the process: the keeper's sockets, DNS
# and HTTP clients, log files, the interpreter's own.
HEADROOM = 64

_lock = threading.Lock()
_reserved = 0  # descriptors promised to the forwarders running in this process


def reserve(wanted: int, per_unit: int, cap: int, what: str) -> int:
    """Make room for ``cap`` units of ``per_unit`` descriptors; returns the cap that fits.

    ``wanted`` is the cap asked for (used in the message). Call ``release`` with the
    returned cap times ``per_unit`` when the forwarder stops.
    """
    global _reserved
    with _lock:
        need = _reserved + HEADROOM + cap * per_unit
        soft, hard = _limits()
        if soft is not None and soft < need:
            new = need if hard is None else min(need, hard)
            if new > soft:
                try:
                    _set_soft(new)
                except (OSError, ValueError) as exc:
                    logger.debug("setrlimit(RLIMIT_NOFILE, %d) failed: %s", new, exc)
                else:
                    logger.info(t("forward.fd_raised", old=soft, new=new))
                    soft = new
            if soft < need:
                fitted = max(1, (soft - _reserved - HEADROOM) // per_unit)
                logger.warning(
                    t("forward.fd_caps_lowered", soft=soft, hard=_show(hard), wanted=wanted, what=t(what), cap=fitted)
                )
                cap = min(cap, fitted)
        _reserved += cap * per_unit
        return cap


def release(count: int) -> None:
    global _reserved
    with _lock:
        _reserved = max(0, _reserved - count)


def _limits() -> tuple[int | None, int | None]:
    """(soft, hard) with None for unlimited or unknown (Windows: the C runtime's
    limit is not ours to set)."""
    if sys.platform == "win32":
        return None, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY
    return (None if soft == infinity else soft), (None if hard == infinity else hard)


def _set_soft(value: int) -> None:
    if sys.platform != "win32":
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (value, hard))


def _show(hard: int | None) -> str:
    return "unlimited" if hard is None else str(hard)
