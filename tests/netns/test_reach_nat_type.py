"""``-t``'s definitive TCP verdict in the lab (SPEC section 13): it listens on the test port
and runs the checks, with the port-check service of ``tests/lab/portcheck.py`` in ``inet``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (fixture)
from tests.lab.reach import CHECKER_TEMPLATE, REQUESTER_TEMPLATE, PortCheck, start_portcheck

pytestmark = pytest.mark.netns

ROOT = Path(__file__).resolve().parents[2]
STUN = "203.0.113.10:3478"


@pytest.fixture
def checker(nat_lab: NatLab) -> Iterator[PortCheck]:  # noqa: F811
    service = start_portcheck(nat_lab)
    try:
        yield service
    finally:
        service.stop()


def run_test(lab: NatLab, reach_check: object) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NAT1_LANG", None)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"stun_udp": [STUN], "stun_tcp": [STUN], "reach_check": reach_check}))
        argv = [sys.executable, "-m", "nat1_traversal", "-t", "-c", str(config)]
        started = time.monotonic()
        done = lab.run("home", argv, check=False, timeout=60, env=env, cwd=str(ROOT))
        return done, time.monotonic() - started


def test_full_cone_with_a_checker_is_full_cone(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    done, elapsed = run_test(nat_lab, [CHECKER_TEMPLATE])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "TCP: FULL CONE (NAT1)" in lines, done.stdout
    assert "TCP 过滤行为：与端点无关的过滤（Endpoint-Independent Filtering）" in lines or any(
        line.startswith("TCP 过滤行为：与端点无关") for line in lines
    ), done.stdout
    assert any(line.startswith("TCP 入站检测：203.0.113.30 连到了测试端口 203.0.113.1:") for line in lines), done.stdout
    check = checker.read_check()
    assert check.startswith("CHECK 203.0.113.1 ") and check.endswith(" tcp 1"), check
    print(f"-t FULL CONE with a checker: {elapsed:.2f} s")


def test_requester_only_checker_also_counts(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    """A user's template without {ip} tests the requester; the lab's requester is the NAT."""
    done, _ = run_test(nat_lab, [REQUESTER_TEMPLATE])
    assert "TCP: FULL CONE (NAT1)" in done.stdout.splitlines(), done.stdout


def test_port_restricted_with_a_checker_is_restricted(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    nat_lab.set_nat("portrestricted")
    done, elapsed = run_test(nat_lab, [CHECKER_TEMPLATE])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "TCP: PORT RESTRICTED CONE (NAT3)" in lines, done.stdout
    tcp_advice = [line for line in lines if line.startswith("TCP：")]
    assert tcp_advice and "端口转发" in tcp_advice[0] and "DMZ" in tcp_advice[0], done.stdout
    assert checker.read_check().endswith(" tcp 0")
    print(f"-t PORT RESTRICTED with a checker: {elapsed:.2f} s")


def test_restricted_with_a_checker_is_restricted_cone(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    nat_lab.set_nat("restricted")
    done, _ = run_test(nat_lab, [CHECKER_TEMPLATE])
    assert "TCP: RESTRICTED CONE (NAT2)" in done.stdout.splitlines(), done.stdout


def test_checks_off_stays_unknown(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    done, elapsed = run_test(nat_lab, [])
    assert "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)" in done.stdout.splitlines(), done.stdout
    assert checker.checks() == []
    assert elapsed < 4.0


def test_hairpin_from_the_public_address_proves_full_cone(nat_lab: NatLab) -> None:  # noqa: F811
    """No external checker: the hairpin NAT turns our own connection around with the
    public address as its source, which a restricted filter would have dropped."""
    nat_lab.set_nat("fullcone", hairpin=True)
    done, _ = run_test(nat_lab, [])
    lines = done.stdout.splitlines()
    assert "TCP: FULL CONE (NAT1)" in lines, done.stdout
    assert any(line.startswith("TCP 入站检测：回环 连到了测试端口") for line in lines), done.stdout


def test_checker_unreachable_beats_nothing_on_a_hairpin_router(nat_lab: NatLab, checker: PortCheck) -> None:  # noqa: F811
    """Port restricted with hairpin on: the hairpin never gets in (the filter sees the
    public address as a stranger), the checker says 0: restricted, never FULL CONE."""
    nat_lab.set_nat("portrestricted", hairpin=True)
    done, _ = run_test(nat_lab, [CHECKER_TEMPLATE])
    assert "TCP: PORT RESTRICTED CONE (NAT3)" in done.stdout.splitlines(), done.stdout
