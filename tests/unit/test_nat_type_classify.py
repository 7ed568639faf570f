"""The pure part of the NAT type test: behaviours -> name, and the printed report."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import pytest

from nat1_traversal import i18n
from nat1_traversal.errors import NetworkError
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.nat_type import (
    Behaviors,
    classify,
    measure_udp,
    render,
)
from nat1_traversal.stun.client import ServerList
from nat1_traversal.stun.probe import FilteringBehavior, MappingBehavior

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


@pytest.mark.asyncio
async def test_local_address_not_of_this_host_is_a_network_error() -> None:
    """``-t -l 192.0.2.1:PORT``: the bind fails before anything is sent; an expected error, not an OSError."""
    local = Endpoint(ipaddress.ip_address("192.0.2.1"), 40123)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(local.sockaddr())
    except OSError:
        pass
    else:
        pytest.skip("this host accepts non-local binds (ip_nonlocal_bind)")
    finally:
        probe.close()
    with pytest.raises(NetworkError) as info:
        await measure_udp(ServerList([HostPort("127.0.0.1", 9)]), local)
    assert "192.0.2.1:40123" in str(info.value)


@pytest.mark.asyncio
async def test_slow_name_resolution_is_a_skipped_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that hangs past the probe deadline fails that server with a Nat1Error
    (on Python 3.10 ``asyncio.TimeoutError`` is no OSError, so it would escape the race)."""
    from nat1_traversal import nat_type
    from nat1_traversal.errors import Nat1Error

    async def hanging(*_args: object) -> tuple[str, int]:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    errors: list[Exception] = []

    async def first_answer(servers: ServerList, attempt: Callable[[HostPort], Awaitable[object]]) -> object:
        for server in servers.ordered():
            try:
                await attempt(server)
            except Exception as exc:  # recorded for the assertion below
                errors.append(exc)
        raise NetworkError("stun.no_server", count=len(servers))

    monkeypatch.setattr(nat_type, "resolve", hanging)
    monkeypatch.setattr(nat_type, "PROBE_TIMEOUT", 0.05)
    monkeypatch.setattr(nat_type, "first_answer", first_answer)
    with pytest.raises(NetworkError):
        await nat_type._first(nat_type._Tcp(Endpoint(ipaddress.ip_address("127.0.0.1"), 0)),
                              ServerList([HostPort("stun.example.test", 3478)]), "tcp", socket.AF_INET)
    assert len(errors) == 1 and isinstance(errors[0], Nat1Error), errors
