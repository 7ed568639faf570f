"""A pure PCP codec (RFC 6887): the MAP opcode only, IPv4 through IPv4-mapped addresses.

No sockets here: ``encode_map`` builds a request, ``decode_map`` checks a reply
against it. Every malformed reply raises :class:`PortmapError`; a well-formed
refusal raises :class:`PortmapRefused` from :func:`check_result`.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap.model import Proto

VERSION = 2  # RFC 6887 §7
OPCODE_MAP = 1  # §19.2
RESPONSE_BIT = 0x80
HEADER_LEN = 24  # §7.1 / §7.2
MAP_LEN = 36  # §11.1
NONCE_LEN = 12
MAX_MESSAGE = 1100  # §7
PROTOCOL_NUMBER: dict[Proto, int] = {"tcp": 6, "udp": 17}

_REQUEST = struct.Struct("!BBHI16s12sB3xHH16s")
_RESPONSE = struct.Struct("!BBxBII12x12sB3xHH16s")


class Result(enum.IntEnum):
    """PCP result codes, RFC 6887 §7.4."""

    SUCCESS = 0
    UNSUPP_VERSION = 1
    NOT_AUTHORIZED = 2
    MALFORMED_REQUEST = 3
    UNSUPP_OPCODE = 4
    UNSUPP_OPTION = 5
    MALFORMED_OPTION = 6
    NETWORK_FAILURE = 7
    NO_RESOURCES = 8
    UNSUPP_PROTOCOL = 9
    USER_EX_QUOTA = 10
    CANNOT_PROVIDE_EXTERNAL = 11
    ADDRESS_MISMATCH = 12
    EXCESSIVE_REMOTE_PEERS = 13


@dataclass(frozen=True, slots=True)
class MapRequest:
    nonce: bytes
    proto: Proto
    client: ipaddress.IPv4Address
    internal_port: int
    external_port: int
    lifetime: int
    external_ip: ipaddress.IPv4Address | None = None


@dataclass(frozen=True, slots=True)
class MapResponse:
    result: int
    lifetime: int
    epoch: int
    nonce: bytes
    protocol: int
    internal_port: int
    external_port: int
    external_ip: ipaddress.IPv4Address | None


def mapped(address: ipaddress.IPv4Address | None) -> bytes:
    """RFC 6887 §5: IPv4 travels as an IPv4-mapped IPv6 address; 'any' is ::ffff:0.0.0.0."""
    return ipaddress.IPv6Address("::ffff:" + str(address or ipaddress.IPv4Address(0))).packed


def unmapped(raw: bytes) -> ipaddress.IPv4Address | None:
    address = ipaddress.IPv6Address(raw)
    v4 = address.ipv4_mapped
    if v4 is None:
        if address == ipaddress.IPv6Address(0):
            return None
        raise PortmapError("portmap.bad_reply", method="PCP", detail="external address is not IPv4-mapped")
    return None if v4 == ipaddress.IPv4Address(0) else v4


def encode_map(request: MapRequest) -> bytes:
    """A MAP request (§11.1). ``lifetime=0`` deletes the mapping (§15), same nonce."""
    if len(request.nonce) != NONCE_LEN:
        raise ValueError("PCP nonce must be 12 bytes")
    return _REQUEST.pack(
        VERSION,
        OPCODE_MAP,
        0,
        request.lifetime,
        mapped(request.client),
        request.nonce,
        PROTOCOL_NUMBER[request.proto],
        request.internal_port,
        request.external_port,
        mapped(request.external_ip),
    )


def decode_map(data: bytes, request: MapRequest) -> MapResponse:
    """Parse a reply to ``request``; anything that is not its answer raises PortmapError."""
    if len(data) < 2:
        raise PortmapError("portmap.bad_reply", method="PCP", detail=f"{len(data)} bytes")
    if data[0] != VERSION:
        # A NAT-PMP-only gateway answers a PCP request with version 0 and
        # "unsupported version" (RFC 6887 §9); the caller then falls back.
        raise PortmapError("portmap.bad_version", method="PCP", version=data[0])
    if data[1] != RESPONSE_BIT | OPCODE_MAP:
        raise PortmapError("portmap.bad_reply", method="PCP", detail=f"opcode byte {data[1]:#04x}")
    if len(data) > MAX_MESSAGE or len(data) % 4:
        raise PortmapError("portmap.bad_reply", method="PCP", detail=f"length {len(data)}")
    if len(data) < HEADER_LEN:
        raise PortmapError("portmap.bad_reply", method="PCP", detail=f"{len(data)} bytes")
    result = data[3]
    if len(data) < HEADER_LEN + MAP_LEN:
        if result == Result.SUCCESS:
            raise PortmapError("portmap.bad_reply", method="PCP", detail=f"{len(data)} bytes")
        # §7.2: an error reply may come without the opcode data it could not parse.
        lifetime, epoch = struct.unpack_from("!II", data, 4)
        return MapResponse(result, lifetime, epoch, request.nonce, 0, request.internal_port, 0, None)
    _v, _op, result, lifetime, epoch, nonce, protocol, internal, external, ext_ip = _RESPONSE.unpack_from(data)
    if nonce != request.nonce:
        raise PortmapError("portmap.bad_nonce", method="PCP")
    if result == Result.SUCCESS:
        if protocol != PROTOCOL_NUMBER[request.proto] or internal != request.internal_port:
            raise PortmapError("portmap.bad_reply", method="PCP", detail="protocol or internal port differs")
        if request.lifetime and external == 0:
            raise PortmapError("portmap.bad_reply", method="PCP", detail="external port 0")
    return MapResponse(result, lifetime, epoch, nonce, protocol, internal, external, unmapped(ext_ip))


def result_name(code: int) -> str:
    try:
        return Result(code).name
    except ValueError:
        return f"RESULT_{code}"


def reason_key(code: int) -> str:
    """The catalogue key that says in words what result ``code`` means."""
    return f"portmap.pcp.{Result(code).name.lower()}" if code in Result.__members__.values() else "portmap.unknown_code"


def check_result(response: MapResponse) -> MapResponse:
    """Return a success; raise :class:`PortmapRefused` with the router's reason otherwise."""
    if response.result == Result.SUCCESS:
        return response
    raise PortmapRefused(
        "portmap.refused",
        method="PCP",
        code=response.result,
        reason_key=reason_key(response.result),
        name=result_name(response.result),
    )
