"""The pure STUN codec: RFC 5769 vectors, table rows, malformed input, properties."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nat1_traversal.errors import ProtocolError
from nat1_traversal.model import Endpoint
from nat1_traversal.stun import codec
from nat1_traversal.stun.codec import Attribute, AttrType, ChangeRequest, ErrorCode, Message, MessageClass, Method


def hexbytes(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 section 2 (test vectors; MESSAGE-INTEGRITY is carried but not checked by us).
TID = hexbytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SAMPLE_REQUEST = hexbytes(
    """00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf"""
)
SAMPLE_IPV4_RESPONSE = hexbytes(
    """01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96"""
)
SAMPLE_IPV6_RESPONSE = hexbytes(
    """01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c"""
)


def ep(text: str, port: int) -> Endpoint:
    return Endpoint(ipaddress.ip_address(text), port)


def test_rfc5769_request() -> None:
    message = codec.decode(SAMPLE_REQUEST)
    assert (message.method, message.cls, message.transaction_id) == (Method.BINDING, MessageClass.REQUEST, TID)
    assert message.get(AttrType.SOFTWARE) == "STUN test client"
    assert message.get(AttrType.USERNAME) == "evtj:h6vY"
    assert message.get(AttrType.PRIORITY) == 0x6E0001FF
    assert message.unknown_required == ()


def test_rfc5769_ipv4_response() -> None:
    message = codec.decode(SAMPLE_IPV4_RESPONSE)
    assert message.cls is MessageClass.SUCCESS
    assert message.get(AttrType.SOFTWARE) == "test vector"
    assert message.address(AttrType.XOR_MAPPED_ADDRESS) == ep("192.0.2.1", 32853)


def test_rfc5769_ipv6_response() -> None:
    message = codec.decode(SAMPLE_IPV6_RESPONSE)
    assert message.address(AttrType.XOR_MAPPED_ADDRESS) == ep("2001:db8:1234:5678:11:2233:4455:6677", 32853)


@pytest.mark.parametrize("vector", [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE])
def test_fingerprint_is_checked(vector: bytes) -> None:
    broken = vector[:-1] + bytes([vector[-1] ^ 1])
    with pytest.raises(ProtocolError):
        codec.decode(broken)


@pytest.mark.parametrize("vector", [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE])
def test_every_truncation_is_a_protocol_error(vector: bytes) -> None:
    for cut in range(len(vector)):
        with pytest.raises(ProtocolError):
            codec.decode(vector[:cut])


def test_our_fingerprint_matches_rfc_vector() -> None:
    # Re-encoding the IPv4 response (without its MESSAGE-INTEGRITY) gives a FINGERPRINT the decoder accepts.
    message = codec.decode(SAMPLE_IPV4_RESPONSE)
    kept = tuple(a for a in message.attributes if a.type not in (AttrType.MESSAGE_INTEGRITY, AttrType.FINGERPRINT))
    data = codec.encode(Message(message.method, message.cls, message.transaction_id, kept), fingerprint=True)
    assert codec.decode(data).address(AttrType.XOR_MAPPED_ADDRESS) == ep("192.0.2.1", 32853)
    assert data[-8:-6] == b"\x80\x28"


@pytest.mark.parametrize(
    ("method", "cls", "wire"),
    [
        (Method.BINDING, MessageClass.REQUEST, 0x0001),
        (Method.BINDING, MessageClass.INDICATION, 0x0011),
        (Method.BINDING, MessageClass.SUCCESS, 0x0101),
        (Method.BINDING, MessageClass.ERROR, 0x0111),
        (0x003, MessageClass.REQUEST, 0x0003),  # TURN Allocate
        (0xFFF, MessageClass.ERROR, 0x3FFF),
    ],
)
def test_message_type_bits(method: int, cls: MessageClass, wire: int) -> None:
    assert codec.message_type(method, cls) == wire
    assert codec.split_message_type(wire) == (method, cls)


def test_change_request_encoding() -> None:
    data = codec.binding_request(TID, ChangeRequest(change_ip=True, change_port=True))
    assert data[20:] == bytes.fromhex("00030004 00000006")
    assert codec.binding_request(TID, ChangeRequest(change_port=True))[20:] == bytes.fromhex("00030004 00000002")
    assert codec.binding_request(TID)[2:4] == b"\x00\x00"  # nothing to change: no attribute


def test_wrong_magic_cookie_is_refused() -> None:
    data = bytearray(SAMPLE_IPV4_RESPONSE)
    data[4] ^= 0xFF
    with pytest.raises(ProtocolError):
        codec.decode(bytes(data))
    assert not codec.looks_like_stun(bytes(data))


def test_bad_address_family_is_refused() -> None:
    value = b"\x00\x03\x00\x50" + bytes(4)
    data = codec.encode(
        Message(Method.BINDING, MessageClass.SUCCESS, TID, (Attribute(AttrType.MAPPED_ADDRESS, value),))
    )
    with pytest.raises(ProtocolError):
        codec.decode(data)


def test_unknown_optional_skipped_unknown_required_reported() -> None:
    attributes = (
        Attribute(0x8FFF, b"opt"),
        Attribute(0x7ABC, b"required"),
        Attribute(AttrType.MAPPED_ADDRESS, ep("198.51.100.7", 9)),
    )
    message = codec.decode(codec.encode(Message(Method.BINDING, MessageClass.SUCCESS, TID, attributes)))
    assert [a.type for a in message.attributes] == [0x7ABC, AttrType.MAPPED_ADDRESS]
    assert message.unknown_required == (0x7ABC,)


def test_first_of_duplicate_attributes_wins() -> None:
    attributes = (
        Attribute(AttrType.OTHER_ADDRESS, ep("203.0.113.11", 3479)),
        Attribute(AttrType.OTHER_ADDRESS, ep("203.0.113.99", 1)),
    )
    message = codec.decode(codec.encode(Message(Method.BINDING, MessageClass.SUCCESS, TID, attributes)))
    assert message.address(AttrType.OTHER_ADDRESS) == ep("203.0.113.11", 3479)


# --- properties ----------------------------------------------------------------------------------------

ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
endpoints = st.builds(Endpoint, st.one_of(ipv4, ipv6), st.integers(0, 65535))
texts = st.text(max_size=40).filter(lambda s: "\ufffd" not in s)
attribute = st.one_of(
    st.builds(Attribute, st.sampled_from([AttrType.MAPPED_ADDRESS, AttrType.XOR_MAPPED_ADDRESS,
                                          AttrType.OTHER_ADDRESS, AttrType.CHANGED_ADDRESS,
                                          AttrType.RESPONSE_ORIGIN, AttrType.SOURCE_ADDRESS]), endpoints),
    st.builds(Attribute, st.just(AttrType.CHANGE_REQUEST), st.builds(ChangeRequest, st.booleans(), st.booleans())),
    st.builds(Attribute, st.just(AttrType.SOFTWARE), texts),
    st.builds(Attribute, st.just(AttrType.ERROR_CODE), st.builds(ErrorCode, st.integers(300, 699), texts)),
    st.builds(Attribute, st.just(AttrType.MESSAGE_INTEGRITY), st.binary(min_size=20, max_size=20)),
)  # fmt: skip
messages = st.builds(
    Message,
    st.integers(0, 0xFFF),
    st.sampled_from(list(MessageClass)),
    st.binary(min_size=12, max_size=12),
    st.lists(attribute, max_size=6).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(messages, st.booleans())
def test_round_trip(message: Message, fingerprint: bool) -> None:
    decoded = codec.decode(codec.encode(message, fingerprint=fingerprint))
    kept = tuple(a for a in decoded.attributes if a.type != AttrType.FINGERPRINT)
    assert Message(decoded.method, decoded.cls, decoded.transaction_id, kept) == message


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        codec.decode(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 0xFFFF))
def test_random_bodies_behind_a_valid_header_raise_only_protocol_error(body: bytes, kind: int) -> None:
    body = body + bytes(-len(body) % 4)
    data = (kind & 0x3FFF).to_bytes(2, "big") + len(body).to_bytes(2, "big") + codec.MAGIC_COOKIE_BYTES + TID + body
    with contextlib.suppress(ProtocolError):
        codec.decode(data)
