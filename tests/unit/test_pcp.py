"""PCP codec (RFC 6887): requests byte for byte, replies table-driven, random bytes fuzzed."""

from __future__ import annotations

import contextlib
import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nat1_traversal import i18n
from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap import pcp

NONCE = bytes(range(1, 13))
CLIENT = ipaddress.IPv4Address("192.168.1.10")
REQUEST = pcp.MapRequest(NONCE, "tcp", CLIENT, 25565, 25565, 7200)


def reply(
    *,
    version: int = 2,
    opcode: int = 0x81,
    result: int = 0,
    lifetime: int = 7200,
    epoch: int = 1000,
    nonce: bytes = NONCE,
    protocol: int = 6,
    internal: int = 25565,
    external: int = 25565,
    ext_ip: str = "::ffff:203.0.113.7",
) -> bytes:
    return (
        struct.pack("!BBxBII12x", version, opcode, result, lifetime, epoch)
        + nonce
        + struct.pack("!B3xHH", protocol, internal, external)
        + ipaddress.IPv6Address(ext_ip).packed
    )


def test_request_bytes() -> None:
    data = pcp.encode_map(REQUEST)
    assert len(data) == 60
    assert data[:4] == bytes((2, 1, 0, 0))
    assert data[4:8] == (7200).to_bytes(4, "big")
    assert data[8:24] == bytes(10) + b"\xff\xff" + CLIENT.packed
    assert data[24:36] == NONCE
    assert data[36] == 6 and data[37:40] == bytes(3)
    assert data[40:44] == struct.pack("!HH", 25565, 25565)
    assert data[44:60] == bytes(10) + b"\xff\xff" + bytes(4)


def test_delete_is_lifetime_zero_with_the_same_nonce() -> None:
    delete = pcp.encode_map(pcp.MapRequest(NONCE, "udp", CLIENT, 19132, 0, 0))
    assert delete[4:8] == bytes(4) and delete[24:36] == NONCE and delete[36] == 17


def test_nonce_must_be_12_bytes() -> None:
    with pytest.raises(ValueError):
        pcp.encode_map(pcp.MapRequest(b"short", "tcp", CLIENT, 1, 1, 1))


def test_success_reply() -> None:
    got = pcp.check_result(pcp.decode_map(reply(lifetime=120), REQUEST))
    assert got.lifetime == 120 and got.epoch == 1000
    assert got.external_port == 25565
    assert got.external_ip == ipaddress.IPv4Address("203.0.113.7")


def test_unspecified_external_address_is_none() -> None:
    assert pcp.decode_map(reply(ext_ip="::ffff:0.0.0.0"), REQUEST).external_ip is None


BAD_REPLIES = [
    ("empty", b"", "portmap.bad_reply"),
    ("one byte", b"\x02", "portmap.bad_reply"),
    ("NAT-PMP answer", bytes((0, 0x81, 0, 1)) + bytes(4), "portmap.bad_version"),
    ("version 3", reply(version=3), "portmap.bad_version"),
    ("a request echoed", reply(opcode=0x01), "portmap.bad_reply"),
    ("ANNOUNCE", reply(opcode=0x80), "portmap.bad_reply"),
    ("truncated header", reply()[:20], "portmap.bad_reply"),
    ("truncated success", reply()[:40], "portmap.bad_reply"),
    ("not a multiple of 4", reply() + b"\0", "portmap.bad_reply"),
    ("over 1100 bytes", reply() + bytes(1100), "portmap.bad_reply"),
    ("wrong nonce", reply(nonce=bytes(12)), "portmap.bad_nonce"),
    ("wrong protocol", reply(protocol=17), "portmap.bad_reply"),
    ("wrong internal port", reply(internal=1), "portmap.bad_reply"),
    ("external port 0", reply(external=0), "portmap.bad_reply"),
    ("native IPv6 external", reply(ext_ip="2001:db8::1"), "portmap.bad_reply"),
]


@pytest.mark.parametrize(("data", "key"), [(d, k) for _n, d, k in BAD_REPLIES], ids=[n for n, _d, _k in BAD_REPLIES])
def test_malformed_replies(data: bytes, key: str) -> None:
    with pytest.raises(PortmapError) as caught:
        pcp.decode_map(data, REQUEST)
    assert caught.value.key == key
    assert not isinstance(caught.value, PortmapRefused)
    assert caught.value.render()  # renders in words, not as a key


def test_error_reply_may_lack_opcode_data() -> None:
    short = struct.pack("!BBxBII12x", 2, 0x81, pcp.Result.NOT_AUTHORIZED, 30, 5)
    got = pcp.decode_map(short, REQUEST)
    assert got.result == pcp.Result.NOT_AUTHORIZED and got.lifetime == 30


@pytest.mark.parametrize("code", [*list(pcp.Result)[1:], 99])
def test_every_result_code_is_rendered(code: int) -> None:
    with pytest.raises(PortmapRefused) as caught:
        pcp.check_result(pcp.decode_map(reply(result=code), REQUEST))
    refused = caught.value
    assert refused.code == code and refused.method == "PCP"
    reason = refused.reason()
    assert reason and not reason.startswith("portmap.")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reason)
    assert str(code) in refused.render()
    i18n.set_language("en")
    assert refused.reason().isascii()


def test_wrong_nonce_on_error_reply_is_still_rejected() -> None:
    with pytest.raises(PortmapError):
        pcp.decode_map(reply(result=2, nonce=b"x" * 12), REQUEST)


@given(st.binary(max_size=1200))
def test_random_bytes_raise_only_portmap_error(data: bytes) -> None:
    with contextlib.suppress(PortmapError):
        pcp.check_result(pcp.decode_map(data, REQUEST))


@given(st.binary(min_size=60, max_size=60))
def test_random_replies_with_a_valid_header(tail: bytes) -> None:
    data = bytes((2, 0x81)) + tail[2:]
    with contextlib.suppress(PortmapError):
        pcp.check_result(pcp.decode_map(data, REQUEST))
