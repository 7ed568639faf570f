"""Fixtures and hooks for every layer of the suite.

Layers: ``unit/`` (pure), ``loopback/`` (real sockets on 127.0.0.1 and ::1),
``contract/`` (DNS providers against faithful fakes and a real Knot), ``netns/``
(the NAT lab in network namespaces; root). Shared code lives in ``support/``;
no test module imports another.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from nat1_traversal import i18n
from tests.support import portmap_guard
from tests.support.ci import IN_CI
from tests.support.netguard import nat1_netguard

# --------------------------------------------------------------------------- network guard
# The suite's hard rule: no packet leaves loopback except inside a namespace a test made.
# The guard (tests/support/netguard) refuses and records any other connect, sendto or name
# lookup, here and in every Python child (PYTHONPATH + sitecustomize), so a test whose
# product would fall back to a built-in public server list, the real default gateway, SSDP
# multicast or a public checker fails instead of quietly trying the next server.
_GUARD_DIR = Path(__file__).resolve().parent / "support" / "netguard"

_GUARD_LOG = Path(tempfile.gettempdir()) / f"nat1-netguard-{os.getpid()}.log"
os.environ["NAT1_NETGUARD_LOG"] = str(_GUARD_LOG)
os.environ["PYTHONPATH"] = os.pathsep.join(
    part for part in (str(_GUARD_DIR), os.environ.get("PYTHONPATH", "")) if part
)
nat1_netguard.install(os.readlink("/proc/thread-self/ns/net"))


def _guard_records() -> list[str]:
    try:
        children = _GUARD_LOG.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        children = []
    return children  # this process and every child append to the same file


@pytest.fixture
def netguard_records() -> Callable[[], list[str]]:
    """For the guard's own tests: what was refused since the test began (and forgiven)."""
    before = len(_guard_records())
    return lambda: _guard_records()[before:]


@pytest.fixture(autouse=True)
def _network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    before = len(_guard_records())
    yield
    new = _guard_records()[before:]
    if new and "netguard_records" not in request.fixturenames:
        pytest.fail("network guard: the test reached outside loopback:\n  " + "\n  ".join(new))


# --------------------------------------------------------------------------- built-in reach checkers
# SPEC section 13: "reach_check": null means public port checkers. No test may use that
# default: in this process the list is replaced by a tripwire that fails the test as soon
# as a service or -t takes it; in children the guard refuses those hosts in every
# namespace, the lab's included (NAT1_NETGUARD_FORBIDDEN).
from nat1_traversal.reach import checkers as _reach_checkers  # noqa: E402

os.environ["NAT1_NETGUARD_FORBIDDEN"] = ",".join(checker.host for checker in _reach_checkers.BUILTIN)


class _BuiltinTripwire(tuple[_reach_checkers.Checker, ...]):
    used: ClassVar[list[str]] = []

    def __iter__(self) -> Iterator[_reach_checkers.Checker]:
        _BuiltinTripwire.used.append("the built-in reach_check list")
        return super().__iter__()


@pytest.fixture(autouse=True)
def _no_builtin_reach_checkers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _BuiltinTripwire.used.clear()
    monkeypatch.setattr(_reach_checkers, "BUILTIN", _BuiltinTripwire(_reach_checkers.BUILTIN))
    yield
    if _BuiltinTripwire.used:
        pytest.fail('a test used "reach_check": null (the public checkers); set [] or its own checker')


@pytest.fixture(autouse=True)
def _chinese_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts in the default language, whatever the caller's env says."""
    monkeypatch.delenv("NAT1_LANG", raising=False)
    i18n.set_language(None)


@pytest.fixture(autouse=True)
def _no_real_router(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test whose product would ask the real router or send SSDP outside its own lab."""
    violations = portmap_guard.install(request, monkeypatch)
    yield
    if violations:
        pytest.fail("contacted outside the test's own lab: " + ", ".join(violations))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{portmap_guard.MARKER}: runs the port mapper against its own lab gateway")


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
