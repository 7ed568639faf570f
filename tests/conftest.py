"""Fixtures and hooks for every layer of the suite.

Layers: ``unit/`` (pure), ``loopback/`` (real sockets on 127.0.0.1 and ::1),
``contract/`` (DNS providers against faithful fakes and a real Knot), ``netns/``
(the NAT lab in network namespaces; root). Shared code lives in ``support/``;
no test module imports another.
"""

from __future__ import annotations

import pytest

from nat1_traversal import i18n
from tests.support.ci import IN_CI


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
