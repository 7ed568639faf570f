"""The pure part of the NAT type test: behaviours -> name, and the printed report."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal import i18n
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.nat_type import (
    Behaviors,
    FilteringBehavior,
    MappingBehavior,
    _parse_hostport,
    classify,
    render,
)

EIM, ADM, APDM, DEP, MUNK = (
    MappingBehavior.EIM,
    MappingBehavior.ADM,
    MappingBehavior.APDM,
    MappingBehavior.DEPENDENT,
    MappingBehavior.UNKNOWN,
)
EIF, ADF, APDF, FUNK = FilteringBehavior.EIF, FilteringBehavior.ADF, FilteringBehavior.APDF, FilteringBehavior.UNKNOWN


@pytest.mark.parametrize(
    ("open_internet", "mapping", "filtering", "number", "name"),
    [
        (True, EIM, EIF, 0, "OPEN INTERNET"),
        (True, EIM, APDF, 0, "OPEN INTERNET"),
        (False, EIM, EIF, 1, "FULL CONE"),
        (False, EIM, ADF, 2, "RESTRICTED CONE"),
        (False, EIM, APDF, 3, "PORT RESTRICTED CONE"),
        (False, ADM, ADF, 4, "SYMMETRIC"),
        (False, APDM, APDF, 4, "SYMMETRIC"),
        (False, APDM, EIF, 4, "SYMMETRIC"),
        (False, DEP, FUNK, 4, "SYMMETRIC"),
        # Never a guessed FULL CONE: unknown filtering or mapping stays unknown.
        (False, EIM, FUNK, None, "UNKNOWN"),
        (False, MUNK, EIF, None, "UNKNOWN"),
        (False, MUNK, FUNK, None, "UNKNOWN"),
    ],
)
def test_classify(open_internet: bool, mapping: MappingBehavior, filtering: FilteringBehavior,
                  number: int | None, name: str) -> None:  # fmt: skip
    nat = classify(Behaviors(reached=True, open_internet=open_internet, mapping=mapping, filtering=filtering))
    assert (nat.number, nat.name) == (number, name)


def test_unreachable_is_unknown() -> None:
    assert classify(Behaviors(reached=False)).number is None
    assert classify(Behaviors(reached=False)).reason == "stun.nat.reason.unreachable"


def test_unknown_reason_comes_from_the_measurement() -> None:
    nat = classify(
        Behaviors(reached=True, mapping=EIM, filtering=FUNK, filtering_reason="stun.nat.reason.tcp_filtering")
    )
    assert nat.reason == "stun.nat.reason.tcp_filtering"


MAPPED = Endpoint(ipaddress.IPv4Address("203.0.113.1"), 61234)


def test_report_lines_are_exact() -> None:
    tcp = Behaviors(reached=True, mapping=EIM, filtering=FUNK, filtering_reason="stun.nat.reason.tcp_filtering",
                    port_preserved=False, mapped=MAPPED)  # fmt: skip
    udp = Behaviors(reached=True, mapping=EIM, filtering=EIF, port_preserved=False, mapped=MAPPED)
    lines = render(tcp, udp)
    results = [line for line in lines if line.startswith(("TCP: ", "UDP: "))]
    assert results == ["TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)", "UDP: FULL CONE (NAT1)"]
    # Behaviours come before the result lines, advice after.
    first_result = lines.index(results[0])
    assert any("映射行为" in line for line in lines[:first_result])
    assert any("过滤行为" in line for line in lines[:first_result])
    assert "203.0.113.1:61234" in "\n".join(lines[:first_result])
    assert lines[-1].startswith("UDP：") and "可以直接使用" in lines[-1]
    assert lines[-2].startswith("TCP：")


def test_report_symmetric_and_unreachable_in_english() -> None:
    i18n.set_language("en")
    tcp = Behaviors(reached=False)
    udp = Behaviors(reached=True, mapping=APDM, filtering=APDF, port_preserved=True, mapped=MAPPED)
    lines = render(tcp, udp)
    assert "TCP: UNKNOWN (no STUN server could be reached)" in lines
    assert "UDP: SYMMETRIC (NAT4)" in lines
    assert "UDP port preservation: yes" in lines
    assert any("cannot work" in line for line in lines)
    assert not any(line.startswith("TCP mapping") for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stun.example.com", HostPort("stun.example.com", 3478)),
        ("stun.example.com:19302", HostPort("stun.example.com", 19302)),
        ("203.0.113.10:3479", HostPort("203.0.113.10", 3479)),
        ("[2001:db8::1]:3478", HostPort("2001:db8::1", 3478)),
        (":25566", HostPort("", 25566)),
    ],
)
def test_runner_hostport(text: str, expected: HostPort) -> None:
    assert _parse_hostport(text, 3478) == expected
