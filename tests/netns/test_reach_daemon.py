"""The daemon's reachability checks in the lab (SPEC section 13), with the port-check service in
``inet``: the confirmation line, a port the router starts dropping flagged within
``reach_interval + 10`` s, a mapping lost between keepalives named as such, and a WAN
address change (PPPoE redial) logged and published within ``keepalive_interval + 5`` s."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import ROUTER_OUTSIDE_IP, STUN_IPS, NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (fixture)
from tests.lab.reach import CHECKER_TEMPLATE, PortCheck, block_new_inbound, start_portcheck, unblock
from tests.support.lab_cli import MAPPING_RE, LabCli, start_cli, start_server

pytestmark = [pytest.mark.netns, pytest.mark.slow]

STUN = [f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"]
CONFIRMED = r"映射地址 {ip}:{port} 已确认可从公网访问"
UNREACHABLE = r"WARNING.*映射地址 {ip}:{port} 无法从公网访问"
REDIAL_IP = "203.0.113.2"


@pytest.fixture
def lab(nat_lab: NatLab) -> Iterator[NatLab]:  # noqa: F811
    start_server(nat_lab, "inet", "http", STUN_IPS[0], 80)
    try:
        yield nat_lab
    finally:
        unblock(nat_lab)


@pytest.fixture
def checker(lab: NatLab) -> Iterator[PortCheck]:
    service = start_portcheck(lab)
    try:
        yield service
    finally:
        service.stop()


def config(
    service_type: str, *, keepalive: float, reach_interval: float, reach: object, on_change: str | None = None
) -> dict[str, object]:
    return {
        "on_change": on_change,
        "type": service_type, "dns": "no_dns", "stun_tcp": STUN, "stun_udp": STUN,
        "keepalive_tcp": [f"{STUN_IPS[0]}:80"], "keepalive_interval": keepalive,
        "reach_check": reach, "reach_interval": reach_interval, "status": False, "upnp": False,
    }  # fmt: skip


def started(
    lab: NatLab, tmp_path: Path, service_type: str, *, debug: bool = False, **keys: object
) -> tuple[LabCli, str, int]:
    port = 25565 if service_type == "mcje" else 19132
    start_server(lab, "home", service_type, "127.0.0.1", port + 1, "reach lab")
    args = ["-l", f":{port}", "-r", f"127.0.0.1:{port + 1}", *(["-d"] if debug else [])]
    run = start_cli(lab, config(service_type, **keys), tmp_path, *args)  # type: ignore[arg-type]
    _line, match = run.wait_for(MAPPING_RE, 20)
    return run, match.group(1), int(match.group(2))


def test_confirmed_then_a_dropped_port_is_flagged(
    lab: NatLab, checker: PortCheck, tmp_path: Path, record_property: object
) -> None:
    reach_interval = 2.0
    run, ip, port = started(lab, tmp_path, "mcje", keepalive=2, reach_interval=reach_interval, reach=[CHECKER_TEMPLATE])
    try:
        run.wait_for(CONFIRMED.format(ip=re.escape(ip), port=port), 10)
        seen = len(run.lines)
        blocked_at = time.monotonic()
        block_new_inbound(lab, "tcp", port)
        line, _ = run.wait_for(UNREACHABLE.format(ip=re.escape(ip), port=port), reach_interval + 10, after=seen)
        flagged = line.at - blocked_at
        assert "端口转发" in line.text or "防火墙" in line.text
        # Once per change of state: several more rounds, no second warning, no remap.
        time.sleep(reach_interval * 3)
        assert run.count("无法从公网访问") == 1, run.dump()
        assert len([entry for entry in run.lines if MAPPING_RE.search(entry.text)]) == 1
        # The router lets players in again: the recovery is said once.
        unblock(lab)
        run.wait_for(CONFIRMED.format(ip=re.escape(ip), port=port), reach_interval + 10, after=seen)
    finally:
        code = run.stop(lab)
    assert code == 0, run.dump()
    print(f"dropped port flagged after {flagged:.2f} s (reach_interval {reach_interval:g} s)")
    record_property("reach_flag_seconds", round(flagged, 2))  # type: ignore[operator]
    assert flagged <= reach_interval + 10


def test_mapping_lost_between_keepalives_names_the_interval(lab: NatLab, checker: PortCheck, tmp_path: Path) -> None:
    """mcbe: the NAT forgets an idle UDP mapping after 3 s, the keepalive comes every 12 s.
    A check in the gap finds the port closed and STUN a new mapping: the warning says
    that the keepalive interval is too long."""
    lab.set_nat("fullcone", mapping_timeout=3)
    # Only UDP forgets that fast: the HTTP request to the checker (TCP, idle while the
    # checker probes us for 3 s) must survive, as it would on any real NAT.
    lab.run("router", ["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_timeout_established=432000"])
    run, ip, port = started(lab, tmp_path, "mcbe", keepalive=12, reach_interval=5, reach=[CHECKER_TEMPLATE])
    try:
        run.wait_for(CONFIRMED.format(ip=re.escape(ip), port=port), 10)
        line, _ = run.wait_for(UNREACHABLE.format(ip=re.escape(ip), port=port), 5 + 10)
        assert "keepalive_interval（当前 12 秒）" in line.text, line.text
    finally:
        run.stop(lab)


def test_wan_address_change_is_republished_in_time(lab: NatLab, tmp_path: Path, record_property: object) -> None:
    """PPPoE redial: the router's public address moves; the keeper logs and publishes the
    new address within keepalive_interval + 5 s, for TCP (mcje) and UDP (mcbe)."""
    keepalive = 2.0
    figures: dict[str, tuple[float, float]] = {}
    for service_type in ("mcje", "mcbe"):
        folder = tmp_path / service_type
        folder.mkdir()
        changes = folder / "changes.txt"
        hook = folder / "on_change.sh"
        hook.write_text(f'#!/bin/sh\necho "$@" >> {changes}\n')
        hook.chmod(0o755)
        run, ip, _port = started(
            lab, folder, service_type, keepalive=keepalive, reach_interval=300, reach=[], on_change=str(hook)
        )
        try:
            assert ip == ROUTER_OUTSIDE_IP
            assert wait_lines(changes, 1)[0].split()[3] == ROUTER_OUTSIDE_IP
            seen = len(run.lines)
            moved_at = time.monotonic()
            lab.move_public_ip(REDIAL_IP)
            line, match = run.wait_for(MAPPING_RE, keepalive + 10, after=seen)
            assert match.group(1) == REDIAL_IP, run.dump()
            published = wait_lines(changes, 2)
            published_at = time.monotonic()
            assert published[1].split()[3] == REDIAL_IP, published
            figures[service_type] = (line.at - moved_at, published_at - moved_at)
        finally:
            run.stop(lab)
            lab.move_public_ip(ROUTER_OUTSIDE_IP)
    print("redial: " + ", ".join(f"{k} logged {a:.2f} s, published {b:.2f} s" for k, (a, b) in figures.items()))
    for kind, (logged, published_after) in figures.items():
        record_property(f"redial_{kind}_seconds", round(published_after, 2))  # type: ignore[operator]
        assert logged <= keepalive + 5 and published_after <= keepalive + 5, figures


def wait_lines(path: Path, count: int, timeout: float = 12) -> list[str]:
    """The on_change log of another process: polling the file is the only signal (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)
