"""The keeper's vocabulary: its timing, what ``hold`` returns, and the path protocol.

Everything else in the package imports from here; this module imports nothing of
the keeper.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from nat1_traversal.backoff import KEEPER_BACKOFF, Backoff
from nat1_traversal.errors import Nat1Error
from nat1_traversal.model import Endpoint, HostPort, Mapping, Proto

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
    backoff: Backoff = field(default=KEEPER_BACKOFF)
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


@dataclass(frozen=True, slots=True)
class Answer:
    """One STUN answer from the service port: the mapping, the server's OTHER-ADDRESS
    (RFC 5780) when it named one, and the address the question went to."""

    mapping: Mapping
    other: Endpoint | None = None
    server: tuple[str, int] | None = None


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

    async def binding(self, server: HostPort) -> Answer:
        """One STUN Binding from the service port; raises NetworkError/ProtocolError."""

    async def hold(self, mapping: Mapping, recheck: Recheck, alive: Callable[[], None]) -> HoldResult:
        """Keep ``mapping`` alive until it looks lost or changed; call ``alive`` after
        every keepalive that got its answer."""

    async def aclose(self) -> None: ...
