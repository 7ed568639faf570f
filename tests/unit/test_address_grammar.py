"""The one host:port grammar (addr.py) in every shape its callers use, table-driven.

The callers are ``-l``/``-r``/config local+remote (literal IPs, bare number = port),
server lists and the rfc2136 endpoint (names allowed, bare number = host), and ``-q``
(names allowed, host and port optional). The same text must mean the same thing in all.
"""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.addr import (
    AddressError,
    parse_address,
    parse_host_port,
    parse_local,
    parse_optional_host_port,
    parse_port,
)
from nat1_traversal.config import DnsSettings
from nat1_traversal.dns import validate_settings
from nat1_traversal.dns.rfc2136 import split_host_port as rfc2136_split
from nat1_traversal.errors import UsageError
from nat1_traversal.model import Endpoint, HostPort, Secret
from nat1_traversal.query import QueryTarget, parse_target

# text -> (-l result or error key, server-list result or error key, -q result or None for refused)
Local = Endpoint | str
Listed = HostPort | str
Query = tuple[str | None, int | None] | None


def ep(ip: str, port: int) -> Endpoint:
    return Endpoint(ipaddress.ip_address(ip), port)


TABLE: list[tuple[str, Local, Listed, Query]] = [
    (":", ep("0.0.0.0", 25565), "cli.addr.bad_host", (None, None)),
    ("", ep("0.0.0.0", 25565), "cli.addr.bad_host", (None, None)),
    (":25566", ep("0.0.0.0", 25566), "cli.addr.bad_host", (None, 25566)),
    ("25566", ep("0.0.0.0", 25566), HostPort("25566", 3478), (None, 25566)),
    ("1.2.3.4", ep("1.2.3.4", 25565), HostPort("1.2.3.4", 3478), ("1.2.3.4", None)),
    ("1.2.3.4:", ep("1.2.3.4", 25565), HostPort("1.2.3.4", 3478), ("1.2.3.4", None)),
    (" 1.2.3.4:80 ", ep("1.2.3.4", 80), HostPort("1.2.3.4", 80), ("1.2.3.4", 80)),
    ("[::1]:25566", ep("::1", 25566), HostPort("::1", 25566), ("::1", 25566)),
    ("[::1]", ep("::1", 25565), HostPort("::1", 3478), ("::1", None)),
    ("[::1]:", ep("::1", 25565), HostPort("::1", 3478), ("::1", None)),
    ("2001:db8::1", ep("2001:db8::1", 25565), HostPort("2001:db8::1", 3478), ("2001:db8::1", None)),
    ("stun.example.com:19302", "cli.addr.bad_ip", HostPort("stun.example.com", 19302), ("stun.example.com", 19302)),
    ("name.example.", "cli.addr.bad_ip", HostPort("name.example.", 3478), ("name.example.", None)),
    ("我的世界.中国:1", "cli.addr.bad_ip", HostPort("xn--rhqx00c95nv9a.xn--fiqs8s", 1),
     ("xn--rhqx00c95nv9a.xn--fiqs8s", 1)),
    ("我的世界。中国", "cli.addr.bad_ip", HostPort("xn--rhqx00c95nv9a.xn--fiqs8s", 3478),
     ("xn--rhqx00c95nv9a.xn--fiqs8s", None)),
    # refused everywhere, with the same reason
    (":0", "cli.addr.bad_port", "cli.addr.bad_host", None),
    ("host:0", "cli.addr.bad_ip", "cli.addr.bad_port", None),
    ("1.2.3.4:65536", "cli.addr.bad_port", "cli.addr.bad_port", None),
    ("1.2.3.4:-1", "cli.addr.bad_port", "cli.addr.bad_port", None),
    ("1.2.3.4:abc", "cli.addr.bad_port", "cli.addr.bad_port", None),
    ("1.2.3.4:²", "cli.addr.bad_port", "cli.addr.bad_port", None),  # str.isdigit() says yes
    (":²", "cli.addr.bad_port", "cli.addr.bad_host", None),
    ("²", "cli.addr.bad_ip", "cli.addr.bad_host", None),  # not a port, not an IP, not a name
    ("1.2.3.4:２５", "cli.addr.bad_port", "cli.addr.bad_port", None),  # fullwidth digits
    ("1.2.3.4:000080", "cli.addr.bad_port", "cli.addr.bad_port", None),  # more than 5 digits
    ("999999", "cli.addr.bad_port", HostPort("999999", 3478), None),
    ("[::1", "cli.addr.bad_brackets", "cli.addr.bad_brackets", None),
    ("[::1]x", "cli.addr.bad_brackets", "cli.addr.bad_brackets", None),
    ("[1.2.3.4]:80", "cli.addr.bad_ip", "cli.addr.bad_ip", None),  # brackets hold IPv6 only
    ("[name]:80", "cli.addr.bad_ip", "cli.addr.bad_ip", None),
    ("1::2::3", "cli.addr.bad_ip", "cli.addr.bad_ip", None),
    ("a:b:c", "cli.addr.bad_ip", "cli.addr.bad_ip", None),
    ("a b:80", "cli.addr.bad_ip", "cli.addr.bad_host", None),
    ("ex/ample", "cli.addr.bad_ip", "cli.addr.bad_host", None),
    ("-lead.example", "cli.addr.bad_ip", "cli.addr.bad_host", None),
    ("x" * 64 + ".example", "cli.addr.bad_ip", "cli.addr.bad_host", None),
    ("x" * 5000, "cli.addr.bad_ip", "cli.addr.bad_host", None),
    ("fe80::1%eth0", "cli.addr.bad_ip", HostPort("fe80::1%eth0", 3478), ("fe80::1%eth0", None)),
]


@pytest.mark.parametrize(("text", "local", "listed", "query"), TABLE)
def test_one_grammar_for_every_caller(text: str, local: Local, listed: Listed, query: Query) -> None:
    if isinstance(local, Endpoint):
        assert parse_local(text) == local
    else:
        with pytest.raises(AddressError) as info:
            parse_local(text)
        assert info.value.key == local
    if isinstance(listed, HostPort):
        assert parse_host_port(text, 3478) == listed
    else:
        with pytest.raises(AddressError) as listed_info:
            parse_host_port(text, 3478)
        assert listed_info.value.key == listed
    if query is None:
        with pytest.raises(AddressError):
            parse_optional_host_port(text)
        with pytest.raises(UsageError) as usage:
            parse_target(text)
        assert usage.value.exit_code == 2
    else:
        assert parse_optional_host_port(text) == query
        assert parse_target(text) == QueryTarget(*query)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", 53)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("ns1.example.com", ("ns1.example.com", 53)),
        ("ns1.example.com:", ("ns1.example.com", 53)),
        ("[2001:db8::53]:5300", ("2001:db8::53", 5300)),
        ("2001:db8::53", ("2001:db8::53", 53)),
    ],
)
def test_rfc2136_endpoint_uses_the_grammar(endpoint: str, expected: tuple[str, int]) -> None:
    assert rfc2136_split(endpoint) == expected
    assert not _endpoint_problems(endpoint)


@pytest.mark.parametrize("endpoint", ["ns1:²", "ns1:0", "[ns1]:53", "a b", "1::2::3", "ns1:99999"])
def test_rfc2136_endpoint_refused_at_load(endpoint: str) -> None:
    assert _endpoint_problems(endpoint)
    with pytest.raises(AddressError):
        rfc2136_split(endpoint)


def _endpoint_problems(endpoint: str) -> list[str]:
    settings = DnsSettings(kind="rfc2136", id="key.", token=Secret("c2VjcmV0"), domain="example.com",
                           sub_domain="mc", endpoint=endpoint)
    return [p for p in validate_settings(settings) if endpoint.strip() in p]


@pytest.mark.parametrize(
    ("text", "ok"),
    [("1", True), ("65535", True), ("0", False), ("65536", False), ("²", False), ("٣", False), ("", False),
     ("+1", False), (" 1", False), ("00001", True), ("000001", False)],
)
def test_port(text: str, ok: bool) -> None:
    if ok:
        assert parse_port(text, text) == int(text)
    else:
        with pytest.raises(AddressError):
            parse_port(text, text)


def test_options_are_independent() -> None:
    assert parse_address("80", default_port=1, names=True, bare_number_is_port=True, host_required=False) == (None, 80)
    assert parse_address("80", default_port=1, names=True, bare_number_is_port=False, host_required=True) == ("80", 1)
    with pytest.raises(AddressError):
        parse_address("80", default_port=1, names=True, bare_number_is_port=True, host_required=True)
