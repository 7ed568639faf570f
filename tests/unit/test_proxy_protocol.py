"""PROXY protocol headers, byte for byte (HAProxy spec sections 2.1 and 2.2)."""

from __future__ import annotations

import pytest

from nat1_traversal.forward.proxy_protocol import header_v1, header_v2, proxy_header

SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"


def test_v1_ipv4() -> None:
    assert header_v1(("192.0.2.10", 51234), ("10.0.0.2", 25565)) == (
        b"PROXY TCP4 192.0.2.10 10.0.0.2 51234 25565\r\n"
    )


def test_v1_ipv6_with_flow_and_scope_fields() -> None:
    assert header_v1(("2001:db8::1", 40000, 0, 0), ("2001:db8::2", 443, 0, 0)) == (
        b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n"
    )


def test_v1_ipv4_mapped_becomes_tcp4() -> None:
    assert header_v1(("::ffff:198.51.100.7", 1, 0, 0), ("::ffff:127.0.0.1", 2, 0, 0)) == (
        b"PROXY TCP4 198.51.100.7 127.0.0.1 1 2\r\n"
    )


def test_v1_longest_line_fits_107_bytes() -> None:
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
    line = header_v1((full, 65535, 0, 0), (full, 65535, 0, 0))
    assert len(line) <= 107
    assert line.endswith(b"\r\n")


@pytest.mark.parametrize(
    ("src", "dst"),
    [(("192.0.2.1", 1), ("2001:db8::1", 2, 0, 0)), (("not-an-ip", 1), ("192.0.2.1", 2)), ((), ())],
)
def test_unknown_addresses(src: tuple[object, ...], dst: tuple[object, ...]) -> None:
    assert header_v1(src, dst) == b"PROXY UNKNOWN\r\n"
    assert header_v2(src, dst) == SIG + b"\x20\x00\x00\x00"


def test_v2_ipv4() -> None:
    header = header_v2(("192.0.2.10", 51234), ("10.0.0.2", 25565))
    assert header == (
        SIG
        + b"\x21\x11\x00\x0c"
        + bytes([192, 0, 2, 10])
        + bytes([10, 0, 0, 2])
        + (51234).to_bytes(2, "big")
        + (25565).to_bytes(2, "big")
    )
    assert len(header) == 16 + 12


def test_v2_ipv6() -> None:
    header = header_v2(("2001:db8::1", 40000, 0, 0), ("::1", 443, 0, 0))
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("00000000000000000000000000000001")
    assert header == SIG + b"\x21\x21\x00\x24" + src + dst + b"\x9c\x40\x01\xbb"
    assert len(header) == 16 + 36


def test_v2_ipv4_mapped_becomes_ipv4() -> None:
    assert header_v2(("::ffff:1.2.3.4", 5, 0, 0), ("::ffff:5.6.7.8", 6, 0, 0)) == (
        SIG + b"\x21\x11\x00\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x00\x05\x00\x06"
    )


def test_dispatch() -> None:
    src, dst = ("192.0.2.10", 1), ("192.0.2.11", 2)
    assert proxy_header("v1", src, dst) == header_v1(src, dst)
    assert proxy_header("v2", src, dst) == header_v2(src, dst)
