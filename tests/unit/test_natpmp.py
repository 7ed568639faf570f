"""NAT-PMP codec (RFC 6886) and the epoch check shared with PCP."""

from __future__ import annotations

import contextlib
import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap import natpmp
from nat1_traversal.portmap.model import EpochClock, Proto, is_private


def test_requests() -> None:
    assert natpmp.encode_external() == b"\x00\x00"
    assert natpmp.encode_map("udp", 19132, 19132, 3600) == bytes.fromhex("0001 0000 4abc 4abc 00000e10")
    assert natpmp.encode_map("tcp", 25565, 25565, 60)[1] == 2
    assert natpmp.encode_map("tcp", 25565, 0, 0) == bytes.fromhex("0002 0000 63dd 0000 00000000")


def test_external_address_reply() -> None:
    got = natpmp.decode_external(bytes.fromhex("0080 0000 000003e8 0a000001"))
    assert got.result == 0 and got.epoch == 1000
    assert got.address == ipaddress.IPv4Address("10.0.0.1")


def test_map_reply() -> None:
    data = struct.pack("!BBHIHHI", 0, 0x82, 0, 77, 25565, 25565, 120)
    got = natpmp.decode_map(data, "tcp", 25565)
    assert (got.external_port, got.lifetime, got.epoch) == (25565, 120, 77)


BAD = [
    ("empty", b"", "udp"),
    ("version 2 (a PCP server)", bytes.fromhex("0281 0000 00000000"), "udp"),
    ("tcp answer to udp", struct.pack("!BBHIHHI", 0, 0x82, 0, 1, 5, 5, 9), "udp"),
    ("a request echoed", struct.pack("!BBHIHHI", 0, 0x01, 0, 1, 5, 5, 9), "udp"),
    ("truncated success", struct.pack("!BBHIHHI", 0, 0x81, 0, 1, 5, 5, 9)[:12], "udp"),
    ("header cut", bytes.fromhex("0081 0000 00"), "udp"),
    ("other internal port", struct.pack("!BBHIHHI", 0, 0x81, 0, 1, 6, 5, 9), "udp"),
]


@pytest.mark.parametrize(("data", "proto"), [(d, p) for _n, d, p in BAD], ids=[n for n, _d, _p in BAD])
def test_malformed_map_replies(data: bytes, proto: Proto) -> None:
    with pytest.raises(PortmapError) as caught:
        natpmp.decode_map(data, proto, 5)
    assert not isinstance(caught.value, PortmapRefused)


def test_malformed_external_replies() -> None:
    for data in (b"\x00", bytes.fromhex("0080 0000 00000001 0a00"), bytes.fromhex("0081 0000 00000001 0a000001")):
        with pytest.raises(PortmapError):
            natpmp.decode_external(data)


def test_refusal_header_only() -> None:
    got = natpmp.decode_map(bytes.fromhex("0081 0002 00000010"), "udp", 5)
    assert got.result == natpmp.Result.NOT_AUTHORIZED


@pytest.mark.parametrize("code", [*list(natpmp.Result)[1:], 42])
def test_every_result_code_is_rendered(code: int) -> None:
    with pytest.raises(PortmapRefused) as caught:
        natpmp.check_result(code)
    assert caught.value.method == "NAT-PMP" and caught.value.code == code
    assert not caught.value.reason().startswith("portmap.")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.render())


@given(st.binary(max_size=64), st.sampled_from(["tcp", "udp"]))
def test_random_bytes_raise_only_portmap_error(data: bytes, proto: Proto) -> None:
    with contextlib.suppress(PortmapError):
        natpmp.check_result(natpmp.decode_map(data, proto, 5).result)
    with contextlib.suppress(PortmapError):
        natpmp.check_result(natpmp.decode_external(data).result)


EPOCHS = [
    ("first answer", [(100, 0.0)], False),
    ("steady", [(100, 0.0), (160, 60.0)], False),
    ("jitter of a second", [(100, 0.0), (99, 0.5)], False),
    ("went backwards: rebooted", [(100, 0.0), (3, 60.0)], True),
    ("far too slow: rebooted after as long", [(1000, 0.0), (1010, 900.0)], True),
    ("far too fast", [(100, 0.0), (900, 10.0)], True),
    ("rebooted then steady", [(100, 0.0), (3, 60.0), (63, 120.0)], False),
]


@pytest.mark.parametrize(("seen", "lost"), [(s, lost) for _n, s, lost in EPOCHS], ids=[n for n, _s, _l in EPOCHS])
def test_epoch_check(seen: list[tuple[int, float]], lost: bool) -> None:
    clock = EpochClock()
    results = [clock.observe(server, now) for server, now in seen]
    assert results[-1] is lost
    assert results[0] is False


def test_private_external_addresses() -> None:
    for text, private in (("10.1.2.3", True), ("100.64.0.9", True), ("192.168.0.1", True), ("203.0.113.7", False)):
        assert is_private(ipaddress.IPv4Address(text)) is private
