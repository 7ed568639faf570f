"""The mapping keeper: learn the public address of ``local``, keep it, notice changes.

One keeper runs per service as one asyncio task. Its loop::

    wait for the local service (shared-port mode)      watch.ServiceWatch (the app's)
    repeat:
        prepare the path (TCP: open the keepalive connection first, so that the
                          mapping STUN reports is the one the keepalive pins)
        acquire: STUN from that very port, every answer checked, confirmed by a
                 second server, a third one deciding a disagreement, or the only
                 server's OTHER-ADDRESS (a mapping per destination: symmetric NAT,
                 refused)                                     keeper.acquire
        once, before the first publish: RFC 5780 filtering test (refused unless
                 endpoint-independent)
        offer the mapping (logged + submitted only when it is new; after a mapping
                 that changed at its first re-check, only once one re-check agrees)
        hold: keepalive every interval until something says the mapping is gone
        three mappings in a row that change at their first re-check: refused

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
from typing import Literal

from nat1_traversal.errors import Nat1Error, NetworkError, ProtocolError
from nat1_traversal.i18n import t
from nat1_traversal.keeper.acquire import Acquirer
from nat1_traversal.keeper.tracker import MappingTracker
from nat1_traversal.keeper.types import Filtering, FilteringTest, KeeperTiming, MappingPath, NatUnusable
from nat1_traversal.model import HostPort, Mapping
from nat1_traversal.stun.client import ServerList

log = logging.getLogger(__name__)

# Mappings in a row that did not survive their first re-check before the NAT is called
# unusable: it maps each connection or destination anew, so whatever is published is
# already gone when a player tries it (issue 12: a DNS write every ~12 s).
MAX_FLAPS = 3
_CHANGED = "keeper.reason.changed"


class Keeper:
    """Owns one service's mapping for as long as its task runs."""

    def __init__(
        self,
        path: MappingPath,
        servers: Sequence[HostPort] | ServerList,
        *,
        submit: Callable[[Mapping], None],
        timing: KeeperTiming,
        before_mapping: Callable[[], Awaitable[None]] | None = None,
        filtering: FilteringTest | None = None,
        rng: random.Random | None = None,
        on_state: Callable[[Literal["mapped", "retrying"], str | None], None] | None = None,
        forward_held: Callable[[], str | None] | None = None,
    ) -> None:
        self._path = path
        # A ServerList given is shared with other services (its health counts for all).
        shared = servers if isinstance(servers, ServerList) else ServerList(servers, policy="stable")
        self._acquirer = Acquirer(path, shared)
        self._timing = timing
        self._before = before_mapping
        self._filtering = filtering
        self._rng = rng or random.Random()
        self.tracker = MappingTracker(submit)
        self.acquired = asyncio.Event()  # set after every successful acquire (tests)
        self.failures = 0
        self._nat_checked = filtering is None
        self._filtering_done = filtering is None
        self._verdict: tuple[Filtering, bool] | None = None
        # The flap guard: the mapping being held, whether a re-check confirmed it, and
        # a mapping held back from publishing until one does.
        self._held: Mapping | None = None
        self._held_confirmed = False
        self._held_back: Mapping | None = None
        self.flaps = 0
        self._on_state = on_state  # the status page's hook: "mapped" / "retrying" with the error
        # The home router's forward of this port (SPEC §14): the method holding it, or None.
        self._forward_held = forward_held

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
                mapping = await self._acquirer.acquire(before_alternate=self._measure_filtering)
            except NatUnusable:
                raise
            except (NetworkError, ProtocolError) as exc:
                await self._failed(exc)
                continue
            if not self._nat_checked:
                # Once, after the first mapping: a symmetric NAT is told apart by
                # acquire already, so its message is the precise one.
                await self._measure_filtering()
                self._judge_filtering()
                self._nat_checked = True
            self._offer(mapping)
            if self._on_state is not None:
                self._on_state("mapped", None)
            self.acquired.set()
            result = await self._path.hold(mapping, self._recheck, self._alive)
            self._count_flap(result.reason)
            if not result.healthy:
                # The keepalive never worked (e.g. every keepalive server is down):
                # count it as a failure so that we back off instead of spinning.
                await self._failed(NetworkError("keeper.keepalive_failed", reason=t(result.reason)))
            else:
                log.info(t("keeper.recheck", reason=t(result.reason)))

    def _offer(self, mapping: Mapping) -> None:
        self._held = mapping
        self._held_confirmed = False
        self._held_back = None
        if self.flaps and mapping != self.tracker.current:
            log.debug("mapping %s held back until a re-check confirms it", mapping.outer)
            self._held_back = mapping
            return
        self.tracker.offer(mapping)

    def _count_flap(self, reason: str) -> None:
        if reason != _CHANGED or self._held_confirmed:
            if self._held_confirmed:
                self.flaps = 0
            return
        self.flaps += 1
        log.debug("mapping changed at its first re-check (%d in a row)", self.flaps)
        if self.flaps >= MAX_FLAPS:
            raise NatUnusable("keeper.mapping_unstable", count=self.flaps)

    def _alive(self) -> None:
        """The path proved the mapping is held (a keepalive got its answer)."""
        if self.failures:
            log.info(t("keeper.recovered"))
            self.failures = 0

    async def _failed(self, exc: Nat1Error) -> None:
        self.failures += 1
        if self._on_state is not None:
            self._on_state("retrying", str(exc))
        delay = self._timing.backoff.delay(self.failures, self._rng)
        if self.failures == 1:
            log.warning(t("keeper.retrying", error=exc, delay=delay))
        else:
            log.debug("keeper failure #%d: %s; retry in %.1fs", self.failures, exc, delay)
        await asyncio.sleep(delay)

    async def stun_now(self) -> Mapping | None:
        """The mapping a STUN server sees now (reach checks: was it lost meanwhile?)."""
        return await self._acquirer.recheck()

    async def _recheck(self) -> Mapping | None:
        now = await self._acquirer.recheck()
        held = self._held
        if now is not None and held is not None and now.outer == held.outer:
            self._held_confirmed = True
            if self._held_back is not None:
                self._held_back = None
                self.tracker.offer(held)
        return now

    async def _measure_filtering(self) -> None:
        """RFC 5780 section 4.4 filtering test, once (its verdict is judged later)."""
        if self._filtering_done or self._filtering is None:
            return
        self._filtering_done = True
        started = time.monotonic()
        try:
            self._verdict = await self._filtering()
        except (NetworkError, ProtocolError) as exc:
            log.debug("filtering test failed: %s", exc)
            return
        log.debug("filtering test: %s (%.2fs)", self._verdict, time.monotonic() - started)

    def _judge_filtering(self) -> None:
        """Anything but endpoint-independent filtering drops the first packet of a
        player we never contacted, so no published address would work. Measured
        from the service port itself the result is certain. Measured from another
        port (TCP services: STUN has no TCP filtering test; shared UDP ports: a
        connected socket cannot hear the other address) it is what the NAT does to
        every port unless the user forwarded this one by hand: a warning, not a refusal.
        """
        verdict = self._verdict
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
        # When the router forward is ours (UPnP/NAT-PMP/PCP), we know it is there: say so.
        method = self._forward_held() if self._forward_held is not None else None
        if method is not None:
            log.info(t("keeper.restricted_forward_held", method=method, kind=name, nat=nat))
            return
        log.warning(t("keeper.restricted_other_port", kind=name, nat=nat))
