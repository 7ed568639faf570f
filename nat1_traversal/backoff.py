"""Capped exponential backoff with jitter, shared by the keeper and the publisher."""

from __future__ import annotations

import random


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
