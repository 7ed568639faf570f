"""The chaos soak's CI variant (issue 15): about three minutes of seeded faults in the NAT lab.

The real CLI runs mcje (RFC 2136 to a real knotd) and mcbe (a webhook that fails 5 %
of its requests) while every kind of fault of ``tests/soak/faults.py`` is injected at least
once. It prints the figures and fails when any goal is missed: availability >= 99 % outside
the injected outages, recovery <= keepalive_interval + 6 s, RSS growth < 5 MB, no
traceback, <= 2 DNS writes per remap, a clean exit. ``make soak`` runs the 10-minute one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab import TOOLS
from tests.soak.faults import KINDS
from tests.soak.run import soak
from tests.support.ci import require_root_tools

CI_SECONDS = 180
CI_SEED = 1


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.timeout(CI_SECONDS + 240)
def test_chaos_soak_meets_its_goals(tmp_path: Path) -> None:
    require_root_tools(*TOOLS, "knotd")
    figures = soak(CI_SECONDS, CI_SEED, keepalive_interval=5.0, webhook_fail=0.05, workdir=tmp_path)
    print()
    print(figures.timeline())
    print(figures.render())
    assert {fault.kind for fault in figures.faults} == set(KINDS), "a fault kind was not injected"
    missed = [text for text, ok in figures.goals() if not ok]
    assert not missed, "soak goals missed:\n" + figures.render()
