"""Pure STUN message codec (RFC 8489/5389, RFC 5780, the RFC 3489 attributes). No sockets.

One table row per attribute type says how its value is read and written, so adding
an attribute is one line. Decoding accepts only well-formed messages and raises
``ProtocolError`` (and nothing else) for anything it cannot accept: a short or
padded-wrong message, a wrong magic cookie, an attribute running past the end, a
bad address family, a FINGERPRINT that does not match.
"""

from __future__ import annotations

import ipaddress
import secrets
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from nat1_traversal.errors import ProtocolError
from nat1_traversal.model import Endpoint

MAGIC_COOKIE = 0x2112A442  # RFC 8489 section 5
MAGIC_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
HEADER_SIZE = 20
TRANSACTION_ID_SIZE = 12
FINGERPRINT_XOR = 0x5354554E  # RFC 8489 section 14.7: "STUN" in ASCII
_HEADER = struct.Struct("!HH4s12s")
_ATTR_HEADER = struct.Struct("!HH")


class MessageClass(IntEnum):
    """The two class bits C1 C0 (RFC 8489 section 5)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class Method(IntEnum):
    BINDING = 0x001


class AttrType(IntEnum):
    MAPPED_ADDRESS = 0x0001
    RESPONSE_ADDRESS = 0x0002  # RFC 3489, obsolete
    CHANGE_REQUEST = 0x0003  # RFC 5780 section 7.2 (from RFC 3489)
    SOURCE_ADDRESS = 0x0004  # RFC 3489: where the response was sent from
    CHANGED_ADDRESS = 0x0005  # RFC 3489: the alternate address
    USERNAME = 0x0006
    PASSWORD = 0x0007  # RFC 3489, obsolete
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REFLECTED_FROM = 0x000B  # RFC 3489, obsolete
    REALM = 0x0014
    NONCE = 0x0015
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    PRIORITY = 0x0024  # RFC 8445 (ICE)
    USE_CANDIDATE = 0x0025
    PADDING = 0x0026  # RFC 5780
    RESPONSE_PORT = 0x0027  # RFC 5780
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    XOR_MAPPED_ADDRESS_DRAFT = 0x8020  # pre-RFC 5389 servers still send this code point
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A
    RESPONSE_ORIGIN = 0x802B  # RFC 5780
    OTHER_ADDRESS = 0x802C  # RFC 5780


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """CHANGE-REQUEST flags (RFC 5780 section 7.2): bit 0x4 change IP, 0x2 change port."""

    change_ip: bool = False
    change_port: bool = False


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: int
    reason: str


AttrValue = Endpoint | ChangeRequest | ErrorCode | str | int | bytes
_V = TypeVar("_V", Endpoint, ChangeRequest, ErrorCode, str, int, bytes)


@dataclass(frozen=True, slots=True)
class Attribute:
    type: int
    value: AttrValue


@dataclass(frozen=True, slots=True)
class Message:
    method: int
    cls: MessageClass
    transaction_id: bytes
    attributes: tuple[Attribute, ...] = ()

    def get(self, attr_type: int) -> AttrValue | None:
        """The first value of ``attr_type`` (RFC 8489: later duplicates are ignored)."""
        for attribute in self.attributes:
            if attribute.type == attr_type:
                return attribute.value
        return None

    def address(self, *attr_types: int) -> Endpoint | None:
        """The first address found, trying ``attr_types`` in order of preference."""
        for attr_type in attr_types:
            value = self.get(attr_type)
            if isinstance(value, Endpoint):
                return value
        return None

    @property
    def unknown_required(self) -> tuple[int, ...]:
        """Comprehension-required attribute types (< 0x8000) this codec does not know."""
        return tuple(a.type for a in self.attributes if a.type not in _TABLE and a.type < 0x8000)


# --- value codecs -------------------------------------------------------------------------------------

_FAMILY_V4, _FAMILY_V6 = 0x01, 0x02


def _decode_address(value: bytes, _tid: bytes) -> Endpoint:
    if len(value) < 4:
        raise ProtocolError("stun.bad_attribute", detail="address too short")
    family, port = value[1], int.from_bytes(value[2:4], "big")
    raw = value[4:]
    if family == _FAMILY_V4 and len(raw) == 4:
        return Endpoint(ipaddress.IPv4Address(raw), port)
    if family == _FAMILY_V6 and len(raw) == 16:
        return Endpoint(ipaddress.IPv6Address(raw), port)
    raise ProtocolError("stun.bad_attribute", detail=f"address family {family} with {len(raw)} bytes")


def _encode_address(value: AttrValue, _tid: bytes) -> bytes:
    endpoint = _expect(value, Endpoint)
    family = _FAMILY_V6 if endpoint.family_v6 else _FAMILY_V4
    return bytes((0, family)) + endpoint.port.to_bytes(2, "big") + endpoint.ip.packed


def _xor_mask(length: int, tid: bytes) -> bytes:
    # RFC 8489 section 14.2: IPv4 is XORed with the cookie, IPv6 with cookie + transaction id.
    return (MAGIC_COOKIE_BYTES + tid)[:length]


def _xor(data: bytes, mask: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, mask, strict=False))


def _decode_xor_address(value: bytes, tid: bytes) -> Endpoint:
    if len(value) < 4:
        raise ProtocolError("stun.bad_attribute", detail="address too short")
    plain = value[:2] + _xor(value[2:4], MAGIC_COOKIE_BYTES[:2]) + _xor(value[4:], _xor_mask(len(value) - 4, tid))
    return _decode_address(plain, tid)


def _encode_xor_address(value: AttrValue, tid: bytes) -> bytes:
    plain = _encode_address(value, tid)
    return plain[:2] + _xor(plain[2:4], MAGIC_COOKIE_BYTES[:2]) + _xor(plain[4:], _xor_mask(len(plain) - 4, tid))


def _decode_change_request(value: bytes, _tid: bytes) -> ChangeRequest:
    if len(value) != 4:
        raise ProtocolError("stun.bad_attribute", detail="CHANGE-REQUEST length")
    flags = int.from_bytes(value, "big")
    return ChangeRequest(change_ip=bool(flags & 0x4), change_port=bool(flags & 0x2))


def _encode_change_request(value: AttrValue, _tid: bytes) -> bytes:
    change = _expect(value, ChangeRequest)
    return ((0x4 if change.change_ip else 0) | (0x2 if change.change_port else 0)).to_bytes(4, "big")


def _decode_error_code(value: bytes, _tid: bytes) -> ErrorCode:
    if len(value) < 4:
        raise ProtocolError("stun.bad_attribute", detail="ERROR-CODE too short")
    code = (value[2] & 0x07) * 100 + value[3]
    return ErrorCode(code, value[4:].decode("utf-8", "replace"))


def _encode_error_code(value: AttrValue, _tid: bytes) -> bytes:
    error = _expect(value, ErrorCode)
    return bytes((0, 0, error.code // 100, error.code % 100)) + error.reason.encode()


def _decode_text(value: bytes, _tid: bytes) -> str:
    return value.decode("utf-8", "replace")


def _encode_text(value: AttrValue, _tid: bytes) -> bytes:
    return _expect(value, str).encode()


def _decode_u32(value: bytes, _tid: bytes) -> int:
    if len(value) != 4:
        raise ProtocolError("stun.bad_attribute", detail="32-bit attribute length")
    return int.from_bytes(value, "big")


def _encode_u32(value: AttrValue, _tid: bytes) -> bytes:
    return _expect(value, int).to_bytes(4, "big")


def _decode_raw(value: bytes, _tid: bytes) -> bytes:
    return value


def _encode_raw(value: AttrValue, _tid: bytes) -> bytes:
    return _expect(value, bytes)


def _expect(value: AttrValue, kind: type[_V]) -> _V:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"attribute value {value!r} is not {kind.__name__}")
    return value


@dataclass(frozen=True, slots=True)
class _Row:
    decode: Callable[[bytes, bytes], AttrValue]
    encode: Callable[[AttrValue, bytes], bytes]


_ADDRESS = _Row(_decode_address, _encode_address)
_XOR_ADDRESS = _Row(_decode_xor_address, _encode_xor_address)
_TEXT = _Row(_decode_text, _encode_text)
_RAW = _Row(_decode_raw, _encode_raw)

# One row per attribute this codec understands; everything else is "unknown".
_TABLE: dict[int, _Row] = {
    AttrType.MAPPED_ADDRESS: _ADDRESS,
    AttrType.RESPONSE_ADDRESS: _ADDRESS,
    AttrType.CHANGE_REQUEST: _Row(_decode_change_request, _encode_change_request),
    AttrType.SOURCE_ADDRESS: _ADDRESS,
    AttrType.CHANGED_ADDRESS: _ADDRESS,
    AttrType.USERNAME: _TEXT,
    AttrType.PASSWORD: _RAW,
    AttrType.MESSAGE_INTEGRITY: _RAW,  # not checked: we use no credentials
    AttrType.ERROR_CODE: _Row(_decode_error_code, _encode_error_code),
    AttrType.UNKNOWN_ATTRIBUTES: _RAW,
    AttrType.REFLECTED_FROM: _ADDRESS,
    AttrType.REALM: _TEXT,
    AttrType.NONCE: _TEXT,
    AttrType.MESSAGE_INTEGRITY_SHA256: _RAW,
    AttrType.PASSWORD_ALGORITHM: _RAW,
    AttrType.USERHASH: _RAW,
    AttrType.XOR_MAPPED_ADDRESS: _XOR_ADDRESS,
    AttrType.PRIORITY: _Row(_decode_u32, _encode_u32),
    AttrType.USE_CANDIDATE: _RAW,
    AttrType.PADDING: _RAW,
    AttrType.RESPONSE_PORT: _RAW,
    AttrType.PASSWORD_ALGORITHMS: _RAW,
    AttrType.ALTERNATE_DOMAIN: _TEXT,
    AttrType.XOR_MAPPED_ADDRESS_DRAFT: _XOR_ADDRESS,
    AttrType.SOFTWARE: _TEXT,
    AttrType.ALTERNATE_SERVER: _ADDRESS,
    AttrType.FINGERPRINT: _Row(_decode_u32, _encode_u32),
    AttrType.ICE_CONTROLLED: _RAW,
    AttrType.ICE_CONTROLLING: _RAW,
    AttrType.RESPONSE_ORIGIN: _ADDRESS,
    AttrType.OTHER_ADDRESS: _ADDRESS,
}


# --- messages -----------------------------------------------------------------------------------------


def message_type(method: int, cls: MessageClass) -> int:
    """Interleave method and class bits: M11..M7 C1 M6..M4 C0 M3..M0 (RFC 8489 section 5)."""
    return (
        ((method & 0xF80) << 2) | ((method & 0x070) << 1) | (method & 0x00F) | ((cls & 0b10) << 7) | ((cls & 0b01) << 4)
    )


def split_message_type(value: int) -> tuple[int, MessageClass]:
    method = ((value & 0x3E00) >> 2) | ((value & 0x00E0) >> 1) | (value & 0x000F)
    cls = MessageClass(((value & 0x0100) >> 7) | ((value & 0x0010) >> 4))
    return method, cls


def new_transaction_id() -> bytes:
    return secrets.token_bytes(TRANSACTION_ID_SIZE)


def _pad(length: int) -> int:
    return (4 - length % 4) % 4


def fingerprint_of(data: bytes) -> int:
    return (zlib.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def encode(message: Message, *, fingerprint: bool = False) -> bytes:
    """The wire form of ``message``; with ``fingerprint`` a FINGERPRINT is appended."""
    if len(message.transaction_id) != TRANSACTION_ID_SIZE:
        raise ValueError("transaction id must be 12 bytes")
    body = bytearray()
    for attribute in message.attributes:
        if isinstance(attribute.value, bytes):
            value = attribute.value  # raw bytes are written as they are, whatever the type
        else:
            value = _TABLE.get(attribute.type, _RAW).encode(attribute.value, message.transaction_id)
        body += _ATTR_HEADER.pack(attribute.type, len(value)) + value + bytes(_pad(len(value)))
    kind = message_type(message.method, message.cls)
    if not fingerprint:
        return _HEADER.pack(kind, len(body), MAGIC_COOKIE_BYTES, message.transaction_id) + bytes(body)
    # The length in the header covers the FINGERPRINT attribute (8 bytes) when the CRC is taken.
    head = _HEADER.pack(kind, len(body) + 8, MAGIC_COOKIE_BYTES, message.transaction_id) + bytes(body)
    return head + _ATTR_HEADER.pack(AttrType.FINGERPRINT, 4) + fingerprint_of(head).to_bytes(4, "big")


def looks_like_stun(data: bytes) -> bool:
    """Cheap demultiplexing test: length, two zero top bits, magic cookie (RFC 7983)."""
    return len(data) >= HEADER_SIZE and data[0] < 0x40 and data[4:8] == MAGIC_COOKIE_BYTES


def body_length(header: bytes) -> int:
    """The body length announced by a 20-byte header (stream framing); validates the header."""
    if len(header) != HEADER_SIZE or not looks_like_stun(header):
        raise ProtocolError("stun.bad_message", detail="not a STUN header")
    length = int.from_bytes(header[2:4], "big")
    if length % 4:
        raise ProtocolError("stun.bad_message", detail="length not a multiple of 4")
    return length


def decode(data: bytes) -> Message:
    """Parse one whole STUN message; raises only ``ProtocolError``."""
    length = body_length(data[:HEADER_SIZE])
    if len(data) != HEADER_SIZE + length:
        raise ProtocolError("stun.bad_message", detail=f"length {length} but {len(data) - HEADER_SIZE} bytes")
    kind, _length, _cookie, tid = _HEADER.unpack_from(data)
    method, cls = split_message_type(kind)
    attributes: list[Attribute] = []
    offset = HEADER_SIZE
    while offset < len(data):
        if offset + 4 > len(data):
            raise ProtocolError("stun.bad_message", detail="truncated attribute header")
        attr_type, attr_len = _ATTR_HEADER.unpack_from(data, offset)
        start = offset + 4
        end = start + attr_len
        if end > len(data):
            raise ProtocolError("stun.bad_message", detail=f"attribute 0x{attr_type:04x} runs past the end")
        value = data[start:end]
        if attr_type == AttrType.FINGERPRINT:
            if end + _pad(attr_len) != len(data):
                raise ProtocolError("stun.bad_message", detail="FINGERPRINT is not last")
            found = _decode_u32(value, tid)
            if found != fingerprint_of(data[:offset]):
                raise ProtocolError("stun.bad_message", detail="FINGERPRINT mismatch")
        row = _TABLE.get(attr_type)
        if row is not None:
            attributes.append(Attribute(attr_type, row.decode(value, tid)))
        elif attr_type < 0x8000:
            attributes.append(Attribute(attr_type, value))  # kept so the caller can refuse it
        offset = end + _pad(attr_len)
    if offset != len(data):
        raise ProtocolError("stun.bad_message", detail="padding runs past the end")
    return Message(method, cls, tid, tuple(attributes))


def binding_request(transaction_id: bytes, change: ChangeRequest | None = None) -> bytes:
    """A Binding request, with CHANGE-REQUEST when ``change`` asks for something."""
    attributes: tuple[Attribute, ...] = ()
    if change is not None and (change.change_ip or change.change_port):
        attributes = (Attribute(AttrType.CHANGE_REQUEST, change),)
    return encode(Message(Method.BINDING, MessageClass.REQUEST, transaction_id, attributes))
