"""Shared test helpers.

``require_root_tools`` guards the tests that need root and system tools (network
namespaces, nft, coturn, knot, a JDK). Outside CI such a test skips with a clear
reason; under ``CI=true`` the same condition is a failure, because CI installs
everything and a silent skip would hide a broken lab.
"""

from __future__ import annotations

import os
import shutil

import pytest

from nat1_traversal import i18n

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


@pytest.fixture(autouse=True)
def _chinese_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in the default language, whatever the caller's env says."""
    monkeypatch.delenv("NAT1_LANG", raising=False)
    i18n.set_language(None)


_skipped_in_ci: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if IN_CI and report.skipped:
        _skipped_in_ci.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a hidden failure: CI installs everything."""
    if IN_CI and _skipped_in_ci and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if IN_CI and _skipped_in_ci:
        terminalreporter.write_line("CI=true: these tests were skipped, which counts as a failure:", red=True)
        for nodeid in _skipped_in_ci:
            terminalreporter.write_line(f"  {nodeid}", red=True)
