"""NAT lab for tests and for hand use; see ``core.py`` and ``rules.py``.

In a test module::

    from tests.lab.fixtures import nat_lab  # noqa: F401  (pytest fixture)

    @pytest.mark.netns
    def test_something(nat_lab):
        nat_lab.set_nat("fullcone")
        nat_lab.run("home", ["python3", "-m", "nat1_traversal", "-t"])

By hand: ``python3 -m tests.lab up fullcone`` / ``python3 -m tests.lab down``.
"""

from tests.lab.core import (
    HOME_IP,
    HOME_PUBLIC_IP,
    PLAYER_IPS,
    ROUTER_OUTSIDE_IP,
    STUN_IPS,
    STUN_PORTS,
    STUN_PRIMARY,
    TOOLS,
    LabError,
    NatLab,
    in_netns,
    netns_socket,
)
from tests.lab.rules import NAT_KINDS, NatKind, canonical_kind

__all__ = [
    "HOME_IP",
    "HOME_PUBLIC_IP",
    "NAT_KINDS",
    "PLAYER_IPS",
    "ROUTER_OUTSIDE_IP",
    "STUN_IPS",
    "STUN_PORTS",
    "STUN_PRIMARY",
    "TOOLS",
    "LabError",
    "NatKind",
    "NatLab",
    "canonical_kind",
    "in_netns",
    "netns_socket",
]
