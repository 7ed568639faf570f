"""Which STUN server to ask: an ordered list that learns, and a staggered race over it.

Public servers come and go. ``first_answer`` asks the first server and, if it has
not answered after ``stagger`` seconds, also the next one, and so on (like Happy
Eyeballs); the first good answer wins and the other attempts are cancelled. A
server that times out, refuses or answers garbage is skipped with a DEBUG line.
``ServerList`` remembers, for the life of the object, which servers answered and
puts them first next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from nat1_traversal.errors import Nat1Error, NetworkError
from nat1_traversal.model import HostPort
from nat1_traversal.stun.transport import BindingResult

log = logging.getLogger(__name__)

DEFAULT_STAGGER = 0.6


class ServerList:
    """Servers in configured order, with those that answered moved to the front."""

    def __init__(self, servers: Sequence[HostPort]) -> None:
        if not servers:
            raise ValueError("empty STUN server list")
        self._configured: tuple[HostPort, ...] = tuple(dict.fromkeys(servers))
        self._good: list[HostPort] = []  # most recent success first
        self._failures: dict[HostPort, int] = {}

    def ordered(self) -> list[HostPort]:
        rest = [s for s in self._configured if s not in self._good]
        # Servers that failed more often go later; the sort is stable, so ties keep config order.
        rest.sort(key=lambda s: self._failures.get(s, 0))
        return [*self._good, *rest]

    def mark_good(self, server: HostPort) -> None:
        if server in self._good:
            self._good.remove(server)
        self._good.insert(0, server)
        self._failures.pop(server, None)

    def mark_bad(self, server: HostPort) -> None:
        if server in self._good:
            self._good.remove(server)
        self._failures[server] = self._failures.get(server, 0) + 1

    def __len__(self) -> int:
        return len(self._configured)


Attempt = Callable[[HostPort], Awaitable[BindingResult]]


async def first_answer(
    servers: ServerList | Sequence[HostPort],
    attempt: Attempt,
    *,
    stagger: float = DEFAULT_STAGGER,
) -> tuple[BindingResult, HostPort]:
    """Run ``attempt`` over the servers, staggered; the first success wins.

    ``attempt`` must bound its own time. Raises ``NetworkError("stun.no_server")``
    when every server failed. ``stagger <= 0`` means strictly one after another.
    """
    server_list = servers if isinstance(servers, ServerList) else ServerList(servers)
    queue = server_list.ordered()
    running: dict[asyncio.Task[BindingResult], HostPort] = {}
    try:
        while queue or running:
            if queue and (not running or stagger > 0):
                server = queue.pop(0)
                running[asyncio.ensure_future(attempt(server))] = server
            wait_for = stagger if queue and stagger > 0 else None
            done, _ = await asyncio.wait(running, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                server = running.pop(task)
                error = task.exception()
                if error is None:
                    server_list.mark_good(server)
                    return task.result(), server
                if not isinstance(error, (Nat1Error, OSError)):
                    raise error
                server_list.mark_bad(server)
                log.debug("STUN server %s skipped: %s", server, error)
        raise NetworkError("stun.no_server", count=len(server_list))
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
