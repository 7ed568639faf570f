"""``-t``'s TCP verdict from the listener check (SPEC section 13), pure."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.model import Endpoint
from nat1_traversal.nat_type import Behaviors, render, with_tcp_verdict
from nat1_traversal.reach.listen import InboundCheck
from nat1_traversal.stun.probe import FilteringBehavior, MappingBehavior

MAPPED = Endpoint(ipaddress.IPv4Address("203.0.113.1"), 61234)


def tcp(check: InboundCheck | None) -> Behaviors:
    return Behaviors(
        reached=True, mapping=MappingBehavior.EIM, filtering_reason="stun.nat.reason.tcp_filtering",
        mapped=MAPPED, inbound=check,
    )  # fmt: skip


def udp(filtering: FilteringBehavior) -> Behaviors:
    return Behaviors(reached=True, mapping=MappingBehavior.EIM, filtering=filtering, mapped=MAPPED)


@pytest.mark.parametrize(
    ("check", "udp_filtering", "line"),
    [
        (InboundCheck("reached", "checker.example"), FilteringBehavior.APDF, "TCP: FULL CONE (NAT1)"),
        (InboundCheck("reached", "hairpin"), FilteringBehavior.EIF, "TCP: FULL CONE (NAT1)"),
        (InboundCheck("unreachable", "checker.example"), FilteringBehavior.EIF, "TCP: PORT RESTRICTED CONE (NAT3)"),
        (InboundCheck("unreachable", "checker.example"), FilteringBehavior.APDF, "TCP: PORT RESTRICTED CONE (NAT3)"),
        (InboundCheck("unreachable", "checker.example"), FilteringBehavior.ADF, "TCP: RESTRICTED CONE (NAT2)"),
        (InboundCheck("unknown"), FilteringBehavior.EIF, "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)"),
        (
            InboundCheck("unknown", reason="reach.nat.reason.claimed_not_seen"),
            FilteringBehavior.EIF,
            "TCP: UNKNOWN (检测服务说可达，但连接没有到达测试端口)",
        ),
        (None, FilteringBehavior.EIF, "TCP: UNKNOWN (STUN 无法测试 TCP 的过滤行为)"),
    ],
)
def test_tcp_line(check: InboundCheck | None, udp_filtering: FilteringBehavior, line: str) -> None:
    assert line in render(tcp(check), udp(udp_filtering))


def test_restricted_gets_the_port_forward_advice() -> None:
    lines = render(tcp(InboundCheck("unreachable", "checker.example")), udp(FilteringBehavior.EIF))
    advice = [entry for entry in lines if entry.startswith("TCP：")]
    assert advice and "端口转发" in advice[0] and "DMZ" in advice[0]
    assert "TCP 入站检测：checker.example 报告 203.0.113.1:61234 无法从外网连入" in lines


def test_a_hairpin_from_inside_is_said_to_prove_nothing() -> None:
    lines = render(tcp(InboundCheck("unknown", hairpin_source="10.0.0.2")), udp(FilteringBehavior.EIF))
    assert "TCP 入站检测：回环连接来自内网地址 10.0.0.2，不能证明过滤行为" in lines


def test_verdict_never_touches_a_symmetric_mapping() -> None:
    symmetric = Behaviors(reached=True, mapping=MappingBehavior.APDM, mapped=MAPPED)
    assert with_tcp_verdict(symmetric, udp(FilteringBehavior.EIF)) is symmetric
    assert "TCP: SYMMETRIC (NAT4)" in render(symmetric, udp(FilteringBehavior.EIF))
