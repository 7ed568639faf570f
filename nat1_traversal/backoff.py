"""Capped exponential backoff with jitter: one value type for the keeper and the publisher."""

from __future__ import annotations

import random
from dataclasses import dataclass


def backoff_delay(
    failures: int,
    first: float,
    cap: float,
    *,
    factor: float = 2.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """Delay after ``failures`` consecutive failures: ``min(cap, first * factor**(n-1))``,
    scaled down by a random fraction of up to ``jitter`` so that many clients that
    failed together (a provider outage, a router reboot) do not retry in step."""
    if failures <= 0:
        return 0.0
    ceiling = min(cap, first * factor ** min(failures - 1, 64))
    return ceiling * (rng or random.Random()).uniform(1.0 - jitter, 1.0)


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait after the n-th consecutive failure, and when to give up.

    ``max_attempts`` None: never give up (the keeper; the publisher until a newer
    mapping replaces the one it is publishing).
    """

    first_delay: float = 1.0
    max_delay: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The pause after ``failures`` consecutive failures (at least one)."""
        return backoff_delay(
            max(1, failures), self.first_delay, self.max_delay, factor=self.factor, jitter=self.jitter, rng=rng
        )

    def gives_up(self, failures: int) -> bool:
        return self.max_attempts is not None and failures >= self.max_attempts


# The keeper's: a lost mapping is retried soon, an outage no more than once a minute.
KEEPER_BACKOFF = Backoff(first_delay=1.0, max_delay=60.0)
# The publisher's: provider APIs rate-limit, so it starts slower and waits longer.
PUBLISH_BACKOFF = Backoff(first_delay=2.0, max_delay=300.0, jitter=0.2)
