"""Number ranges and forward topology, without running the CLI (the CLI cases are in loopback/)."""

from __future__ import annotations

import ipaddress
import math

import pytest

from nat1_traversal.config import NUMBER_RANGES, Config
from nat1_traversal.config_load import parse_config, show_value, topology_problems
from nat1_traversal.errors import ConfigError
from nat1_traversal.model import Endpoint


def ep(ip: str, port: int) -> Endpoint:
    return Endpoint(ipaddress.ip_address(ip), port)


@pytest.mark.parametrize("key", sorted(NUMBER_RANGES))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e308, -1, 0])
def test_every_number_refuses_non_finite_and_out_of_range(key: str, bad: float) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({key: bad})
    assert [p.split("：")[0] for p in info.value.problems] == [key]


@pytest.mark.parametrize("key", sorted(NUMBER_RANGES))
def test_every_number_accepts_its_bounds(key: str) -> None:
    low, high = NUMBER_RANGES[key]
    for value in (int(low), int(high)):
        parse_config({key: value})
    with pytest.raises(ConfigError):
        parse_config({key: int(high) + 1})


def test_show_value_is_short_and_safe() -> None:
    assert show_value(math.nan) == "NaN"
    assert len(show_value("x" * 10_000)) <= 60
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert show_value(deep) == "list"


@pytest.mark.parametrize(
    ("local", "remote", "loop"),
    [
        (ep("0.0.0.0", 25565), ep("127.0.0.1", 25565), True),
        (ep("0.0.0.0", 25565), ep("127.0.0.1", 25566), False),
        (ep("127.0.0.1", 5), ep("127.0.0.2", 5), False),  # a different address of this host
        (ep("0.0.0.0", 5), ep("127.0.0.2", 5), True),
        (ep("0.0.0.0", 5), ep("::1", 5), False),  # an IPv4 listener does not take IPv6
        (ep("::", 5), ep("127.0.0.1", 5), True),  # dual stack
        (ep("::", 5), ep("::ffff:127.0.0.1", 5), True),
        (ep("::", 5), ep("192.0.2.200", 5), False),  # TEST-NET: not an address of this host
    ],
)
def test_self_loop(local: Endpoint, remote: Endpoint, loop: bool) -> None:
    problems = topology_problems(Config(local=local, remote=remote))
    assert (len(problems) == 1 and "自环" in problems[0]) if loop else not problems


@pytest.mark.parametrize("remote", ["0.0.0.0", "::", "::ffff:0.0.0.0"])
def test_unspecified_remote(remote: str) -> None:
    (problem,) = topology_problems(Config(local=ep("0.0.0.0", 1), remote=ep(remote, 2)))
    assert "只能用于监听" in problem


def test_no_remote_no_problem() -> None:
    assert topology_problems(Config(local=ep("0.0.0.0", 1))) == []
