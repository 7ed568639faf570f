"""The mapping keeper: learn the public address of ``local``, keep it, notice changes.

One keeper runs per service as one asyncio task. Its loop::

    wait for the local service (shared-port mode)      watch.ServiceWatch (the app's)
    repeat:
        prepare the path (TCP: open the keepalive connection first, so that the
                          mapping STUN reports is the one the keepalive pins)
        acquire: STUN from that very port, confirmed by a second server
                 (two different answers: symmetric NAT, refused)
        once, before the first publish: RFC 5780 filtering test (refused unless
                 endpoint-independent)
        offer the mapping (logged + submitted only when it is new)
        hold: keepalive every interval until something says the mapping is gone

The protocol details live in ``keeper.tcp`` (STUN over TCP, HTTP keepalive) and
``keeper.udp`` (STUN over UDP from a connected or forwarder socket); both implement
``keeper.types.MappingPath``. All timing is in ``KeeperTiming`` so that tests run in
milliseconds. ``keeper.tracker`` owns the current mapping.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from nat1_traversal.errors import Nat1Error, NetworkError, ProtocolError
from nat1_traversal.i18n import t
from nat1_traversal.keeper.tracker import MappingTracker
from nat1_traversal.keeper.types import Answer, FilteringTest, KeeperTiming, MappingPath, NatUnusable
from nat1_traversal.model import HostPort, Mapping
from nat1_traversal.stun.client import ServerList

log = logging.getLogger(__name__)


class Keeper:
    """Owns one service's mapping for as long as its task runs."""

    def __init__(
        self,
        path: MappingPath,
        servers: Sequence[HostPort],
        *,
        submit: Callable[[Mapping], None],
        timing: KeeperTiming,
        before_mapping: Callable[[], Awaitable[None]] | None = None,
        filtering: FilteringTest | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._path = path
        self._servers = ServerList(servers, policy="stable")
        self._timing = timing
        self._before = before_mapping
        self._filtering = filtering
        self._rng = rng or random.Random()
        self.tracker = MappingTracker(submit)
        self.acquired = asyncio.Event()  # set after every successful acquire (tests)
        self.failures = 0
        self._nat_checked = filtering is None

    @property
    def current(self) -> Mapping | None:
        return self.tracker.current

    async def run(self) -> None:
        """Run until cancelled; raises NatUnusable when the NAT cannot work."""
        try:
            if self._before is not None:
                await self._before()
            await self._loop()
        finally:
            await self._path.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                await self._path.prepare()
                mapping = await self._acquire()
            except NatUnusable:
                raise
            except (NetworkError, ProtocolError) as exc:
                await self._failed(exc)
                continue
            if not self._nat_checked:
                # Once, after the first mapping: a symmetric NAT is told apart by
                # _acquire already, so its message is the precise one.
                await self._check_filtering()
                self._nat_checked = True
            self.tracker.offer(mapping)
            self.acquired.set()
            result = await self._path.hold(mapping, self._recheck, self._alive)
            if not result.healthy:
                # The keepalive never worked (e.g. every keepalive server is down):
                # count it as a failure so that we back off instead of spinning.
                await self._failed(NetworkError("keeper.keepalive_failed", reason=t(result.reason)))
            else:
                log.info(t("keeper.recheck", reason=t(result.reason)))

    def _alive(self) -> None:
        """The path proved the mapping is held (a keepalive got its answer)."""
        if self.failures:
            log.info(t("keeper.recovered"))
            self.failures = 0

    async def _failed(self, exc: Nat1Error) -> None:
        self.failures += 1
        delay = self._timing.backoff.delay(self.failures, self._rng)
        if self.failures == 1:
            log.warning(t("keeper.retrying", error=exc, delay=delay))
        else:
            log.debug("keeper failure #%d: %s; retry in %.1fs", self.failures, exc, delay)
        await asyncio.sleep(delay)

    async def _ask(self, server: HostPort) -> Mapping | None:
        answer = await self._answer(server)
        return None if answer is None else answer.mapping

    async def _answer(self, server: HostPort) -> Answer | None:
        try:
            answer = await self._path.binding(server)
        except (NetworkError, ProtocolError) as exc:
            log.debug("STUN %s failed: %s", server, exc)
            self._servers.mark_bad(server)
            return None
        self._servers.mark_good(server)
        log.debug("STUN %s: %s", server, answer.mapping.outer)
        return answer

    async def _acquire(self) -> Mapping:
        """The mapping of the service port, confirmed by two servers when possible.

        Two answers that differ are checked by asking the first server again: unless
        it now agrees with the second (the mapping changed in between), the NAT maps
        per destination or per connection (RFC 4787 section 4.1: not
        endpoint-independent), and no published address could ever work.
        """
        answers: list[tuple[HostPort, Mapping]] = []
        for server in self._servers.ordered():
            mapping = await self._ask(server)
            if mapping is None:
                continue
            answers.append((server, mapping))
            if len(answers) == 2:
                break
        if not answers:
            raise NetworkError("keeper.no_stun_answer", count=len(self._servers))
        if len(answers) == 1:
            return answers[0][1]
        (first_server, first), (_second_server, second) = answers
        if first.outer == second.outer:
            return first
        again = await self._ask(first_server)
        if again is None:
            raise NetworkError("keeper.unstable", first=str(first.outer), second=str(second.outer))
        if again.outer == second.outer:
            return second  # the mapping changed between the two questions
        # The first server sees its old answer again (a mapping per destination), or
        # yet another one (a new mapping per connection): symmetric either way.
        raise NatUnusable("keeper.symmetric", first=str(first.outer), second=str(second.outer))

    async def _recheck(self) -> Mapping | None:
        for server in self._servers.ordered():
            mapping = await self._ask(server)
            if mapping is not None:
                return mapping
        return None

    async def _check_filtering(self) -> None:
        """RFC 5780 section 4.4 filtering test, once at start.

        Anything but endpoint-independent filtering drops the first packet of a
        player we never contacted, so no published address would work. Measured
        from the service port itself the result is certain. Measured from another
        port (TCP services: STUN has no TCP filtering test; shared UDP ports: a
        connected socket cannot hear the other address) it is what the NAT does to
        every port unless the user forwarded this one by hand: a warning, not a refusal.
        """
        if self._filtering is None:
            return
        started = time.monotonic()
        try:
            verdict = await self._filtering()
        except (NetworkError, ProtocolError) as exc:
            log.debug("filtering test failed: %s", exc)
            return
        log.debug("filtering test: %s (%.2fs)", verdict, time.monotonic() - started)
        if verdict is None or verdict[0] == "independent":
            return
        kind, certain = verdict
        nat = "2" if kind == "address" else "3"
        name = t("keeper.kind_restricted") if kind == "address" else t("keeper.kind_port_restricted")
        if certain:
            raise NatUnusable("keeper.restricted", kind=name, nat=nat)
        # Measured on another port: a port forward or DMZ for this very port (what
        # README tells users of restricted NATs to set up) is invisible from there,
        # so warn loudly and carry on rather than refuse a setup that may work.
        log.warning(t("keeper.restricted_other_port", kind=name, nat=nat))
