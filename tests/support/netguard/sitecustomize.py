"""Loaded by every Python child of the test suite (PYTHONPATH): the network guard."""

import os

if os.environ.get("NAT1_NETGUARD_NETNS"):
    import importlib.util
    import pathlib

    _spec = importlib.util.spec_from_file_location(
        "nat1_netguard", pathlib.Path(__file__).with_name("nat1_netguard.py")
    )
    if _spec is not None and _spec.loader is not None:
        _guard = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_guard)
        _guard.install()
