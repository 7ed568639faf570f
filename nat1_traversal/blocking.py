"""Blocking calls (SDKs, ``requests``, Apprise) off the event loop, abandoned on cancel.

``asyncio.to_thread`` uses the loop's default executor, and ``asyncio.run`` waits for
that executor's threads at exit: one provider call stuck in its 10 s timeout would
hold a SIGTERM far past its one-second budget (issue 15: 13.4 s). Here every call
gets a daemon thread of its own; cancelling the wait abandons the thread, which ends
with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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

    # In a copy of our context: a log line of the call keeps its service's prefix.
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name=name, daemon=True).start()
    return await future
