"""The ``resolver`` setting and DoH reply decoding (SPEC section 15), without sockets."""

from __future__ import annotations

import ipaddress
import json

import dns.message
import dns.rdatatype
import dns.resolver
import pytest

from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError
from nat1_traversal.resolver import DohFailure, _from_json, _from_wire, answer_of, is_fake_ip
from nat1_traversal.resolver_settings import resolver_problem


@pytest.mark.parametrize("value", [None, "system", "https://223.5.5.5/resolve", "https://1.12.12.12/dns-query",
                                   "http://127.0.0.1:8053/resolve", "http://[::1]:8053/dns-query"])
def test_good_settings(value: object) -> None:
    assert resolver_problem(value) is None


@pytest.mark.parametrize(("value", "needle"), [
    ("http://223.5.5.5/resolve", "http://"),
    ("http://localhost/resolve", "http://"),
    ("ftp://223.5.5.5/", "ftp://"),
    ("223.5.5.5", "system"),
    (5, "resolver"),
    ("https:///resolve", "resolver"),
])
def test_bad_settings(value: object, needle: str) -> None:
    problem = resolver_problem(value)
    assert problem is not None and needle in problem


def test_config_key() -> None:
    assert parse_config({})[0].resolver == "system"
    assert parse_config({"resolver": " https://223.5.5.5/resolve "})[0].resolver == "https://223.5.5.5/resolve"
    with pytest.raises(ConfigError) as info:
        parse_config({"resolver": "http://223.5.5.5/resolve"})
    assert info.value.exit_code == 2 and "resolver" in info.value.problems[0]


def test_fake_ip_range() -> None:
    assert is_fake_ip(ipaddress.ip_address("198.18.0.1")) and is_fake_ip(ipaddress.ip_address("198.19.255.254"))
    assert not is_fake_ip(ipaddress.ip_address("198.20.0.1")) and not is_fake_ip(ipaddress.ip_address("::1"))


def _query(name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
    return dns.message.make_query(name, rdtype)


def test_json_reply_follows_cnames() -> None:
    body = json.dumps({"Status": 0, "Answer": [
        {"name": "mc.example.test.", "type": 5, "TTL": 60, "data": "host.example.test."},
        {"name": "host.example.test.", "type": 1, "TTL": 60, "data": "203.0.113.5"},
    ]}).encode()
    response = _from_json(_query("mc.example.test.", dns.rdatatype.A), body)
    answer = answer_of(response, "mc.example.test.", dns.rdatatype.A)
    assert [r.address for r in answer] == ["203.0.113.5"]


def test_json_srv_reply() -> None:
    body = json.dumps({"Status": 0, "Answer": [
        {"name": "_minecraft._tcp.mc.example.test.", "type": 33, "TTL": 60, "data": "10 0 40123 mc.example.test."},
    ]}).encode()
    name = "_minecraft._tcp.mc.example.test."
    answer = answer_of(_from_json(_query(name, dns.rdatatype.SRV), body), name, dns.rdatatype.SRV)
    assert [(r.priority, r.weight, r.port, r.target.to_text()) for r in answer] == [(10, 0, 40123, "mc.example.test.")]


def test_nxdomain_and_no_answer_are_answers() -> None:
    nx = _from_json(_query("no.example.test.", dns.rdatatype.A), b'{"Status": 3}')
    with pytest.raises(dns.resolver.NXDOMAIN):
        answer_of(nx, "no.example.test.", dns.rdatatype.A)
    empty = _from_json(_query("v4only.example.test.", dns.rdatatype.AAAA), b'{"Status": 0, "Answer": []}')
    with pytest.raises(dns.resolver.NoAnswer):
        answer_of(empty, "v4only.example.test.", dns.rdatatype.AAAA)


@pytest.mark.parametrize("body", [b"<html>proxy error</html>", b'{"Answer": []}', b'{"Status": 0, "Answer": [{}]}',
                                  b'{"Status": 0, "Answer": [{"type": 1, "data": "not-an-ip"}]}'])
def test_json_replies_that_are_not_dns(body: bytes) -> None:
    with pytest.raises(DohFailure):
        _from_json(_query("mc.example.test.", dns.rdatatype.A), body)


def test_wire_reply_must_answer_the_question() -> None:
    request = _query("mc.example.test.", dns.rdatatype.A)
    other = dns.message.make_response(_query("other.example.test.", dns.rdatatype.A))
    with pytest.raises(DohFailure):
        _from_wire(request, other.to_wire())
    with pytest.raises(DohFailure):
        _from_wire(request, b"\x00\x01garbage")
    assert _from_wire(request, dns.message.make_response(request).to_wire()).rcode() == 0
