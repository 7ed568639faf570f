"""Blocking calls off the event loop, in threads that never hold up the exit.

``asyncio.to_thread`` uses the loop's default executor, and ``asyncio.run`` waits
for that executor's threads when it finishes: one stuck HTTP request (a webhook
that never answers, a DoH server behind a dead route) would then hold a SIGTERM
for as long as the request's own timeout. A daemon thread per call does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_daemon_thread(function: Callable[[], T], *, name: str = "nat1-blocking") -> T:
    """Run ``function`` in a daemon thread; cancelling the wait abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # T when error is None

    def work() -> None:
        try:
            result = function()
        except BaseException as exc:
            outcome: tuple[T | None, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
