"""The daemon's reachability monitor: a check on every new mapping, then every ``reach_interval``.

One task per service, owned by ``app.Service``. It logs (SPEC section 13):

* ``映射地址 <ip>:<port> 已确认可从公网访问`` once per mapping, and again when a
  mapping that was unreachable recovers;
* a WARNING starting ``映射地址 <ip>:<port> 无法从公网访问`` with advice, once per
  change of state (not every interval). When STUN then reports another mapping,
  or the same one is reachable again right after that STUN question re-opened it,
  the mapping was lost between two keepalives: the advice names
  ``keepalive_interval`` (a NAT whose idle timeout is shorter than the interval
  drops the mapping in the gap, and inbound connections fail part of the time).

Every result goes to ``on_result`` (the status registry's ``reachable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from nat1_traversal.errors import Nat1Error
from nat1_traversal.i18n import t
from nat1_traversal.model import Mapping
from nat1_traversal.reach.check import CHECKER_TIMEOUT, HAIRPIN_TIMEOUT, Outcome, check_round
from nat1_traversal.reach.checkers import Checker

log = logging.getLogger(__name__)

CheckRound = Callable[[str, Mapping, Sequence[Checker]], Awaitable[Outcome]]


class ReachMonitor:
    def __init__(
        self,
        service_type: str,
        checkers: Sequence[Checker],
        interval: float,
        *,
        keepalive_interval: float,
        on_result: Callable[[bool | None], None] | None = None,
        stun_now: Callable[[], Awaitable[Mapping | None]] | None = None,
        check: CheckRound | None = None,
        checker_timeout: float = CHECKER_TIMEOUT,
        hairpin_timeout: float = HAIRPIN_TIMEOUT,
    ) -> None:
        self._type = service_type
        self._checkers = tuple(checkers)
        self._interval = interval
        self._keepalive_interval = keepalive_interval
        self._on_result = on_result
        self._stun_now = stun_now
        self._check = check
        self._checker_timeout = checker_timeout
        self._hairpin_timeout = hairpin_timeout
        self._mapping: Mapping | None = None
        self._wake = asyncio.Event()
        self._state_of: Mapping | None = None
        self._last: bool | None = None  # the last definite result for _state_of
        self._said_elsewhere = False
        self.rounds = 0
        self.checked = asyncio.Event()  # set after every round (tests)
        self.last: Outcome | None = None

    def new_mapping(self, mapping: Mapping) -> None:
        """The keeper holds a new mapping: check it now."""
        self._mapping = mapping
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            if self._mapping is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            mapping = self._mapping
            if mapping is None:
                continue
            outcome = await self._round(mapping)
            if self._mapping != mapping:
                continue  # a newer mapping came meanwhile: its own round follows at once
            await self._report(mapping, outcome)
            self.rounds += 1
            self.last = outcome
            self.checked.set()

    async def _round(self, mapping: Mapping) -> Outcome:
        if self._check is not None:
            return await self._check(self._type, mapping, self._checkers)
        return await check_round(
            self._type, mapping, self._checkers,
            checker_timeout=self._checker_timeout, hairpin_timeout=self._hairpin_timeout,
        )  # fmt: skip

    async def _report(self, mapping: Mapping, outcome: Outcome) -> None:
        if mapping != self._state_of:
            self._state_of, self._last, self._said_elsewhere = mapping, None, False
        if outcome.elsewhere is not None and not self._said_elsewhere:
            self._said_elsewhere = True  # once per mapping
            by, seen = outcome.elsewhere
            log.warning(t("reach.proxy.echo", by=by, seen=seen, addr=str(mapping.outer)))
        if self._on_result is not None:
            self._on_result(outcome.reachable)
        addr = str(mapping.outer)
        if outcome.reachable is None:
            log.debug("reach %s: unknown (hairpin %s, checkers %s)", addr, outcome.hairpin, outcome.checker_verdicts)
            return
        if outcome.reachable:
            if self._last is not True:
                log.info(t("reach.confirmed", addr=addr))
            self._last = True
            return
        if self._last is not False:
            log.warning(await self._warning(mapping, outcome))
        self._last = False

    async def _warning(self, mapping: Mapping, outcome: Outcome) -> str:
        """The WARNING for an unreachable mapping; names keepalive_interval when the NAT
        forgot the mapping between two keepalives: STUN now sees another mapping, or
        the same one (re-opened by that very STUN question) is reachable again at once."""
        addr = str(mapping.outer)
        interval = f"{self._keepalive_interval:g}"
        now: Mapping | None = None
        if self._stun_now is not None:
            try:
                now = await self._stun_now()
            except (Nat1Error, OSError) as exc:  # a failed STUN question only loses the hint
                log.debug("reach: STUN re-check failed: %r", exc)
        if now is not None and now.outer != mapping.outer:
            return t("reach.unreachable_lost", addr=addr, by=outcome.by, now=str(now.outer), interval=interval)
        if now is not None:
            again = await self._round(mapping)
            if again.reachable:
                return t("reach.unreachable_idle", addr=addr, by=outcome.by, interval=interval)
        return t("reach.unreachable", addr=addr, by=outcome.by, proto=mapping.proto.upper())
