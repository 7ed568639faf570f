"""SPEC section 13, the pure parts: reply rules, trust, URL templates, the config keys."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.reach import checkers
from nat1_traversal.reach.checkers import Checker, Reply, read_reply, template_problem, trusted
from nat1_traversal.reach.settings import checkers_for, parse_reach_keys

MAPPING = Mapping(
    "tcp", Endpoint(ipaddress.IPv4Address("10.0.0.2"), 25565), Endpoint(ipaddress.IPv4Address("203.0.113.7"), 40123)
)
UDP_MAPPING = Mapping("udp", MAPPING.inner, MAPPING.outer)


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (200, b"1", "reachable"),
        (200, b"1\n", "reachable"),
        (200, b"true", "reachable"),
        (200, b"TRUE", "reachable"),
        (200, b'{"reachable": true}', "reachable"),
        (200, b"0", "unreachable"),
        (200, b"false", "unreachable"),
        (200, b'{"ip": "203.0.113.7", "port": 1, "reachable": false}', "unreachable"),
        (404, b"1", "unknown"),
        (500, b"0", "unknown"),
        (200, b"", "unknown"),
        (200, b"yes", "unknown"),
        (200, b"2", "unknown"),
        (200, b'{"reachable": "true"}', "unknown"),
        (200, b'{"reachable": 1}', "unknown"),
        (200, b"[true]", "unknown"),
        (200, b"\xff\xfe", "unknown"),
        (200, b"<html>port is open</html>", "unknown"),
    ],
)
def test_reply_rules(status: int, body: bytes, verdict: str) -> None:
    assert read_reply(status, body).verdict == verdict


def test_reply_names_the_tested_address() -> None:
    assert read_reply(200, b'{"ip": "198.51.100.9", "reachable": true}') == Reply("reachable", "198.51.100.9")


def test_an_answer_about_another_address_is_unknown() -> None:
    """A checker that tested another address (our request left through a proxy, over
    IPv6 or another WAN line) says nothing about the mapping."""
    user = Checker("https://example.net/{port}", requester_only=True)
    assert trusted(user, Reply("unreachable", "198.51.100.9"), MAPPING, False) == "unknown"
    assert trusted(user, Reply("unreachable", "203.0.113.7"), MAPPING, False) == "unreachable"
    assert trusted(user, Reply("unreachable"), MAPPING, False) == "unreachable"  # the user's own contract


def test_builtin_requester_only_checkers_need_the_address_confirmed() -> None:
    ifconfig, transmission = checkers.BUILTIN[0], checkers.BUILTIN[1]  # indexing: not a use (conftest)
    assert trusted(ifconfig, Reply("reachable"), MAPPING, False) == "unknown"  # must echo the address
    assert trusted(ifconfig, Reply("reachable", "203.0.113.7"), MAPPING, False) == "reachable"
    assert trusted(transmission, Reply("unreachable"), MAPPING, False) == "unknown"
    assert trusted(transmission, Reply("unreachable"), MAPPING, True) == "unreachable"


def test_tcp_only_checkers_say_nothing_about_udp() -> None:
    for index in range(len(checkers.BUILTIN)):
        assert trusted(checkers.BUILTIN[index], Reply("reachable", "203.0.113.7"), UDP_MAPPING, True) == "unknown"


def test_url_template() -> None:
    checker = Checker("http://127.0.0.1:8080/check/{ip}/{port}/{proto}?x={port}")
    assert checker.url(MAPPING) == "http://127.0.0.1:8080/check/203.0.113.7/40123/tcp?x=40123"
    assert checker.host == "127.0.0.1:8080"
    assert checkers_for(("http://h/{ip}/{port}",))[0].requester_only is False
    assert checkers_for(("http://h/{port}",))[0].requester_only is True
    assert checkers_for(()) == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://example.net/{port}", None),
        ("http://127.0.0.1/check/{ip}/{port}/{proto}", None),
        ("ftp://example.net/{port}", "reach.config.not_url"),
        ("example.net/{port}", "reach.config.not_url"),
        ("https://example.net/ {port}", "reach.config.not_url"),
        ("", "reach.config.not_url"),
        (42, "reach.config.not_url"),
        ("https://example.net/{ip}", "reach.config.no_port"),
        ("https://example.net/{port}/{host}", "reach.config.bad_placeholder"),
    ],
)
def test_template_problems(value: object, problem: str | None) -> None:
    assert template_problem(value) == problem


def test_keys_default_off_and_list() -> None:
    default = parse_reach_keys(None, None)
    assert (default.templates, default.enabled, default.interval, default.problems) == (None, True, 300.0, ())
    off = parse_reach_keys([], 2)
    assert (off.templates, off.enabled, off.interval, off.problems) == ((), True, 2.0, ())
    none = parse_reach_keys(False, None)
    assert (none.templates, none.enabled) == ((), False)
    own = parse_reach_keys([" http://127.0.0.1/{port} "], 10)
    assert own.templates == ("http://127.0.0.1/{port}",) and own.problems == ()


@pytest.mark.parametrize(
    ("check", "interval"),
    [
        ([], float("nan")),
        ([], float("inf")),
        ([], -1),
        ([], 0),
        ([], 0.5),
        ([], 1e9),
        ([], True),
        ([], "300"),
        (None, 10),  # the public checkers: at least 60 s
        ("https://example.net/{port}", None),  # a string, not a list
        (["https://example.net/{port}"] * 17, None),
        ([None], None),
    ],
)
def test_keys_refused(check: object, interval: object) -> None:
    assert parse_reach_keys(check, interval).problems


def test_config_file_keys() -> None:
    config, _warnings = parse_config({"reach_check": ["http://127.0.0.1:9/{port}"], "reach_interval": 2})
    assert config.reach_check == ("http://127.0.0.1:9/{port}",) and config.reach_interval == 2.0 and config.reach
    config, _warnings = parse_config({"reach_check": False})
    assert config.reach is False
    config, warnings = parse_config({})
    assert config.reach_check is None and config.reach_interval == 300.0 and not warnings


def test_config_file_refuses_nan_interval_in_chinese() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"reach_check": [], "reach_interval": float("nan")})
    assert "reach_interval" in str(caught.value)


def test_keys_per_service() -> None:
    """SPEC section 11: the section 13 keys may stand at the top level or in a service."""
    from nat1_traversal.service_config import parse_file

    config, _warnings = parse_file({
        "reach_check": [], "reach_interval": 30,
        "services": [
            {"name": "java", "type": "mcje", "local": ":25565"},
            {"name": "bedrock", "type": "mcbe", "local": ":19132", "reach_check": False},
        ],
    })  # fmt: skip
    assert [(s.name, s.reach_check, s.reach, s.reach_interval) for s in config.services] == [
        ("java", (), True, 30.0), ("bedrock", (), False, 30.0),
    ]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        parse_file({"services": [{"name": "a", "type": "mcje", "local": ":25565", "reach_interval": float("inf")}]})
    assert "services[0]" in str(caught.value) and "reach_interval" in str(caught.value)
