"""The -l/-r address grammar (SPEC section 2) and host:port lists, table-driven."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.addr import AddressError, parse_host_port, parse_local, parse_remote
from nat1_traversal.model import Endpoint, HostPort


def ep(ip: str, port: int) -> Endpoint:
    return Endpoint(ipaddress.ip_address(ip), port)


@pytest.mark.parametrize(
    ("text", "local", "remote"),
    [
        (":", ep("0.0.0.0", 25565), ep("127.0.0.1", 25565)),
        ("", ep("0.0.0.0", 25565), ep("127.0.0.1", 25565)),
        (":25566", ep("0.0.0.0", 25566), ep("127.0.0.1", 25566)),
        ("25566", ep("0.0.0.0", 25566), ep("127.0.0.1", 25566)),
        ("1.2.3.4", ep("1.2.3.4", 25565), ep("1.2.3.4", 25565)),
        ("1.2.3.4:", ep("1.2.3.4", 25565), ep("1.2.3.4", 25565)),
        ("1.2.3.4:25566", ep("1.2.3.4", 25566), ep("1.2.3.4", 25566)),
        ("[::1]:25566", ep("::1", 25566), ep("::1", 25566)),
        ("[::]", ep("::", 25565), ep("::", 25565)),
        ("[::1]:", ep("::1", 25565), ep("::1", 25565)),
        ("::1", ep("::1", 25565), ep("::1", 25565)),
        (" :65535 ", ep("0.0.0.0", 65535), ep("127.0.0.1", 65535)),
    ],
)
def test_grammar(text: str, local: Endpoint, remote: Endpoint) -> None:
    assert parse_local(text) == local
    assert parse_remote(text) == remote


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (":0", "cli.addr.bad_port"),
        (":65536", "cli.addr.bad_port"),
        (":abc", "cli.addr.bad_port"),
        ("1.2.3.4:-1", "cli.addr.bad_port"),
        ("1.2.3:80", "cli.addr.bad_ip"),
        ("example.com:80", "cli.addr.bad_ip"),
        ("[::1", "cli.addr.bad_brackets"),
        ("[::1]x", "cli.addr.bad_brackets"),
        ("[1.2.3.4.5]:80", "cli.addr.bad_ip"),
        ("999999", "cli.addr.bad_port"),
    ],
)
def test_grammar_errors(text: str, key: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_local(text)
    assert info.value.key == key


def test_endpoint_str_brackets_v6() -> None:
    assert str(ep("::1", 80)) == "[::1]:80"
    assert str(ep("1.2.3.4", 80)) == "1.2.3.4:80"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stun.example.com", HostPort("stun.example.com", 3478)),
        ("stun.example.com:19302", HostPort("stun.example.com", 19302)),
        ("203.0.113.10:3479", HostPort("203.0.113.10", 3479)),
        ("[2001:db8::1]:3478", HostPort("2001:db8::1", 3478)),
        ("2001:db8::1", HostPort("2001:db8::1", 3478)),
    ],
)
def test_host_port(text: str, expected: HostPort) -> None:
    assert parse_host_port(text, 3478) == expected


@pytest.mark.parametrize("text", ["", ":80", "a b:80", "host:0", "http://x"])
def test_host_port_errors(text: str) -> None:
    with pytest.raises(AddressError):
        parse_host_port(text, 3478)
