"""pytest fixtures for the NAT lab. Import them into a test module::

    from tests.lab.fixtures import nat_lab  # noqa: F401

``nat_lab`` uses one lab per session (built on first use, ~0.15 s) and handed to each test after a
reset to FULL CONE with the default 60 s mapping timeout; call
``nat_lab.set_nat("symmetric")`` (or "open", "restricted", "portrestricted") to
change it. Processes started with ``nat_lab.popen`` are stopped by pid after each
test. Without root or the tools the test is skipped (fails under CI=true).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.core import ROUTER_OUTSIDE_IP, TOOLS, NatLab
from tests.support.ci import require_root_tools

_LAB_KEY = pytest.StashKey[NatLab]()


def shared_lab(config: pytest.Config) -> NatLab:
    """The one lab of this pytest session: built on first use, destroyed at session end."""
    lab = config.stash.get(_LAB_KEY, None)
    if lab is None:
        lab = NatLab().build("fullcone")
        config.stash[_LAB_KEY] = lab
        config.add_cleanup(lab.destroy)
    return lab


@pytest.fixture
def nat_lab(request: pytest.FixtureRequest) -> Iterator[NatLab]:
    require_root_tools(*TOOLS)
    lab = shared_lab(request.config)
    if lab.outside_ip != ROUTER_OUTSIDE_IP:
        lab.move_public_ip(ROUTER_OUTSIDE_IP)  # a test moved it (a redial): back to the usual
    lab.set_nat("fullcone", mapping_timeout=60)
    try:
        yield lab
    finally:
        for proc in list(lab._procs):
            if proc is not lab.coturn:
                lab.stop(proc)
