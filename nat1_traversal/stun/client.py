"""Which STUN server to ask: an ordered list that learns, and a staggered race over it.

Public servers come and go. ``first_answer`` asks the first server and, if it has
not answered after ``stagger`` seconds, also the next one, and so on (like Happy
Eyeballs); the first good answer wins and the other attempts are cancelled. A
server that times out, refuses or answers garbage is skipped with a DEBUG line.
``ServerList`` remembers, for the life of the object, which servers answered and
which failed (see its two policies).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from nat1_traversal.errors import Nat1Error, NetworkError
from nat1_traversal.model import HostPort
from nat1_traversal.stun.transport import BindingResult

log = logging.getLogger(__name__)

DEFAULT_STAGGER = 0.6


ServerPolicy = Literal["recent", "stable"]


class ServerList:
    """The one server list of the product: an order that learns who answered.

    A server that just failed is asked last under either policy. The policies
    differ only in where the servers that answer go:

    * ``"recent"`` (racing, ``first_answer``): the most recent success first, so
      the next race usually needs a single attempt;
    * ``"stable"`` (the keeper): the configured order (domestic servers first,
      SPEC section 10), so that a new mapping is confirmed by the *next* server of
      a fixed order rather than by the one that answered last.

    ``mark_good`` also forgives: a server that failed and then answered gets its
    configured place back (stable) or goes first (recent).
    """

    def __init__(self, servers: Sequence[HostPort], *, policy: ServerPolicy = "recent") -> None:
        if not servers:
            raise ValueError("empty STUN server list")
        self._configured: tuple[HostPort, ...] = tuple(dict.fromkeys(servers))
        self._policy: ServerPolicy = policy
        self._clock = 0  # counts events, so "most recent" needs no wall clock
        self._succeeded: dict[HostPort, int] = {}  # server -> event number of its last success
        self._failed: dict[HostPort, int] = {}  # server -> event number of its last failure

    @property
    def policy(self) -> ServerPolicy:
        return self._policy

    def ordered(self) -> list[HostPort]:
        rank = {server: index for index, server in enumerate(self._configured)}

        def key(server: HostPort) -> tuple[int, int, int]:
            failed = self._failed.get(server)
            if failed is not None:
                return (2, failed, rank[server])  # the latest failure last
            if self._policy == "recent" and server in self._succeeded:
                return (0, -self._succeeded[server], rank[server])
            return (1, 0, rank[server])

        return sorted(self._configured, key=key)

    def mark_good(self, server: HostPort) -> None:
        self._clock += 1
        self._failed.pop(server, None)
        self._succeeded[server] = self._clock

    def mark_bad(self, server: HostPort) -> None:
        self._clock += 1
        self._succeeded.pop(server, None)
        self._failed[server] = self._clock

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
