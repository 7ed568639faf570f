"""The mapping keeper: learn the public address of ``local``, keep it, notice changes.

One keeper runs per service as one asyncio task. Its loop::

    wait for the local service (shared-port mode)      keeper_watch.ServiceWatch
    repeat:
        prepare the path (TCP: open the keepalive connection first, so that the
                          mapping STUN reports is the one the keepalive pins)
        acquire: STUN from that very port, confirmed by a second server
                 (two different answers: symmetric NAT, refused)
        once, before the first publish: RFC 5780 filtering test (refused unless
                 endpoint-independent)
        offer the mapping (logged + submitted only when it is new)
        hold: keepalive every interval until something says the mapping is gone

The protocol details live in ``keeper_tcp`` (STUN over TCP, HTTP keepalive) and
``keeper_udp`` (STUN over UDP from a connected or forwarder socket); both implement
``MappingPath``. All timing is in ``KeeperTiming`` so that tests run in milliseconds.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from nat1_traversal.backoff import backoff_delay
from nat1_traversal.errors import Nat1Error, NetworkError, ProtocolError
from nat1_traversal.i18n import t
from nat1_traversal.model import HostPort, Mapping, Proto

log = logging.getLogger(__name__)


# RFC 4787 section 5 filtering behaviours: endpoint-independent (full cone),
# address-dependent (restricted cone), address-and-port-dependent (port restricted).
Filtering = Literal["independent", "address", "port"]


@dataclass(frozen=True, slots=True)
class KeeperTiming:
    """Every delay the keeper uses; the defaults suit the Internet, tests shrink them."""

    keepalive_interval: float = 10.0
    # TCP: a STUN re-check every N keepalives (a safety net; UDP keepalives are STUN).
    recheck_every: int = 6
    # Deadline for one STUN transaction / one keepalive reply. Kept short so that a
    # lost mapping is noticed within keepalive_interval + a few seconds.
    reply_timeout: float = 2.0
    connect_timeout: float = 3.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    # Local service watch: how often to poll while waiting for it, and afterwards.
    probe_interval: float = 2.0
    watch_interval: float = 30.0
    probe_timeout: float = 3.0
    # How long a resolved STUN/keepalive host name is reused before resolving again.
    resolve_ttl: float = 600.0

    @classmethod
    def for_interval(cls, interval: float) -> KeeperTiming:
        return cls(keepalive_interval=interval)


class NatUnusable(Nat1Error):
    """The NAT cannot carry inbound connections to a published mapping (exit 1)."""


class MappingTracker:
    """Turns a stream of observed mappings into publishes: only new ones, each once."""

    def __init__(self, submit: Callable[[Mapping], None]) -> None:
        self._submit = submit
        self.current: Mapping | None = None
        self.published = 0
        self._said_public = False

    def offer(self, mapping: Mapping) -> bool:
        """Log and submit ``mapping`` if it differs from the last one; True if it did."""
        if mapping == self.current:
            log.debug("mapping unchanged: %s", mapping.outer)
            return False
        self.current = mapping
        self.published += 1
        log.info(t("keeper.mapping", addr=str(mapping.outer)))
        if mapping.is_public and not self._said_public:
            self._said_public = True
            log.info(t("keeper.public_ip", addr=str(mapping.outer)))
        self._submit(mapping)
        return True


class ServerOrder:
    """A server list that remembers who failed: a server that does not answer goes to
    the back, so the next round starts with one that did. Working servers keep the
    configured order (domestic ones first, SPEC section 10). Unlike the NAT test's
    ``stun.client.ServerList`` it never promotes the last server that answered: the
    keeper confirms a new mapping with the *next* server in a stable order."""

    def __init__(self, servers: Sequence[HostPort]) -> None:
        if not servers:
            raise ValueError("empty server list")
        self._servers = list(servers)

    def __len__(self) -> int:
        return len(self._servers)

    def ordered(self) -> list[HostPort]:
        return list(self._servers)

    def good(self, server: HostPort) -> None:
        """Nothing to do: a server that answers keeps its place."""

    def bad(self, server: HostPort) -> None:
        if server in self._servers and self._servers[-1] != server:
            self._servers.remove(server)
            self._servers.append(server)


# The RFC 5780 filtering test: ``(verdict, measured_on_the_service_port)`` or None.
FilteringTest = Callable[[], Awaitable["tuple[Filtering, bool] | None"]]

# Asks the STUN servers once more: the mapping one of them sees now (None: nobody answered).
Recheck = Callable[[], Awaitable["Mapping | None"]]


@dataclass(frozen=True, slots=True)
class HoldResult:
    """Why ``hold`` returned (a catalogue key) and whether the keepalive worked at least once."""

    reason: str
    healthy: bool


class MappingPath(Protocol):
    """One protocol's way of asking STUN about ``local`` and keeping the mapping alive."""

    proto: Proto

    async def prepare(self) -> None:
        """Make the path ready before STUN is asked (TCP: open the keepalive)."""

    async def binding(self, server: HostPort) -> Mapping:
        """One STUN Binding from the service port; raises NetworkError/ProtocolError."""

    async def hold(self, mapping: Mapping, recheck: Recheck, alive: Callable[[], None]) -> HoldResult:
        """Keep ``mapping`` alive until it looks lost or changed; call ``alive`` after
        every keepalive that got its answer."""

    async def aclose(self) -> None: ...


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
        self._servers = ServerOrder(servers)
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
        delay = backoff_delay(self.failures, self._timing.backoff_base, self._timing.backoff_cap, rng=self._rng)
        if self.failures == 1:
            log.warning(t("keeper.retrying", error=exc, delay=delay))
        else:
            log.debug("keeper failure #%d: %s; retry in %.1fs", self.failures, exc, delay)
        await asyncio.sleep(delay)

    async def _ask(self, server: HostPort) -> Mapping | None:
        try:
            mapping = await self._path.binding(server)
        except (NetworkError, ProtocolError) as exc:
            log.debug("STUN %s failed: %s", server, exc)
            self._servers.bad(server)
            return None
        self._servers.good(server)
        log.debug("STUN %s: %s", server, mapping.outer)
        return mapping

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


def is_fatal_bind_error(exc: BaseException) -> bool:
    """A bind error no retry can fix: the port is taken by a socket we cannot share."""
    cause = exc.__cause__
    return isinstance(cause, OSError) and cause.errno in (errno.EADDRINUSE, errno.EACCES)


async def cancel_and_wait(task: asyncio.Task[object] | None, timeout: float = 1.0) -> None:
    """Cancel ``task`` and wait (bounded) for it; our own cancellation still propagates."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: it was reported by whoever owned the task
