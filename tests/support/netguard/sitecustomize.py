"""Loaded by every Python child of the test suite (PYTHONPATH): the network guard."""

import os

if os.environ.get("NAT1_NETGUARD_NETNS"):
    import nat1_netguard

    nat1_netguard.install()
