"""Whether this is CI, and the guard for tests that need root and system tools.

``require_root_tools`` guards the tests that need root and system tools (network
namespaces, nft, coturn, knot, a JDK). Outside CI such a test skips with a clear
reason; under ``CI=true`` the same condition is a failure, because CI installs
everything and a silent skip would hide a broken lab.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_root_tools(*tools: str, root: bool = True) -> None:
    """Skip (or fail, under CI) unless running as root with every tool on PATH."""
    problems: list[str] = []
    if root and os.geteuid() != 0:
        problems.append("needs root")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if problems:
        reason = "; ".join(problems)
        if IN_CI:
            pytest.fail(f"required under CI: {reason}")
        pytest.skip(reason)
