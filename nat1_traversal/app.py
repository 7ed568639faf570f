"""The process: every service under one supervisor, and clean signals.

``run_service`` is what the CLI runs inside ``asyncio.run``. It hands the config's
services (SPEC section 11: the ``services`` list, or the file's only one) to a
``Supervisor``, which owns every task, until SIGTERM/SIGINT/SIGHUP; then everything
stops within a second. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from nat1_traversal.config import Config
from nat1_traversal.i18n import t
from nat1_traversal.keeper.types import KeeperTiming
from nat1_traversal.service import SHUTDOWN_BUDGET, ServerPool, Service, Submitter, _limits, check_supported
from nat1_traversal.supervisor import Supervisor

__all__ = ["SHUTDOWN_BUDGET", "ServerPool", "Service", "Submitter", "_limits", "check_supported", "run_service"]

log = logging.getLogger(__name__)


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM/SIGHUP: the first asks for a clean stop, the second exits at once.

    SIGHUP (the terminal went away) used to kill the process with 129 and no cleanup.
    When it is ignored already (``nohup``), it stays ignored: that is what was asked.
    """
    installed: list[int] = []

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning(t("keeper.forced_exit"))
            logging.shutdown()
            os._exit(128 + signum)
        log.info(t("keeper.stopping"))
        stop.set()

    signums = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        signums.append(hangup)
    for signum in signums:
        try:
            loop.add_signal_handler(signum, on_signal, int(signum))
        except (NotImplementedError, RuntimeError, ValueError):  # Windows / not the main thread
            continue
        installed.append(signum)

    def remove() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return remove


async def run_service(
    config: Config,
    *,
    timing: KeeperTiming | None = None,
    stop: asyncio.Event | None = None,
    service: Service | None = None,
    handle_signals: bool = True,
) -> int:
    """Run every service of ``config`` until a signal (or ``stop``); 0 on a clean stop.

    One service: raises ``Nat1Error`` for what the CLI renders, as it always did:
    UsageError (exit 2) for modes that cannot work here, NetworkError when the port
    cannot be bound or shared, NatUnusable when the NAT cannot take inbound
    connections. Several: a service that fails is reported and stopped, the others
    go on; 1 once none is left (SPEC section 11).

    ``handle_signals=False``: the caller owns the signals (the CLI's ``signals.GUARD``).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    supervisor = Supervisor(config, timing=timing, services=[service] if service is not None else None)
    supervisor.check()
    remove_signals = _install_signals(loop, stop) if handle_signals else (lambda: None)
    try:
        return await supervisor.run(stop)
    finally:
        remove_signals()
