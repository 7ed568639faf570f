"""A pure NAT-PMP codec (RFC 6886): external address and UDP/TCP mappings.

Like :mod:`pcp`, no sockets: requests are bytes, replies are checked against
the request they answer; malformed input raises :class:`PortmapError`.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap.model import Proto

VERSION = 0  # RFC 6886 §3.1
OPCODE_EXTERNAL = 0  # §3.2
OPCODE: dict[Proto, int] = {"udp": 1, "tcp": 2}  # §3.3
RESPONSE_BIT = 0x80

_EXTERNAL_REPLY = struct.Struct("!BBHI4s")  # 12 bytes, §3.2
_MAP_REQUEST = struct.Struct("!BBHHHI")  # 12 bytes, §3.3
_MAP_REPLY = struct.Struct("!BBHIHHI")  # 16 bytes, §3.3
_HEADER = struct.Struct("!BBHI")  # version, opcode, result, epoch: common to every reply


class Result(enum.IntEnum):
    """NAT-PMP result codes, RFC 6886 §3.5."""

    SUCCESS = 0
    UNSUPPORTED_VERSION = 1
    NOT_AUTHORIZED = 2
    NETWORK_FAILURE = 3
    OUT_OF_RESOURCES = 4
    UNSUPPORTED_OPCODE = 5


@dataclass(frozen=True, slots=True)
class ExternalReply:
    result: int
    epoch: int
    address: ipaddress.IPv4Address


@dataclass(frozen=True, slots=True)
class MapReply:
    result: int
    epoch: int
    internal_port: int
    external_port: int
    lifetime: int


def encode_external() -> bytes:
    return bytes((VERSION, OPCODE_EXTERNAL))


def encode_map(proto: Proto, internal_port: int, external_port: int, lifetime: int) -> bytes:
    """A map request; ``lifetime=0`` and ``external_port=0`` delete it (§3.4)."""
    return _MAP_REQUEST.pack(VERSION, OPCODE[proto], 0, internal_port, external_port, lifetime)


def _header(data: bytes, opcode: int) -> tuple[int, int]:
    if len(data) < 2:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"{len(data)} bytes")
    if data[0] != VERSION:
        raise PortmapError("portmap.bad_version", method="NAT-PMP", version=data[0])
    if data[1] != RESPONSE_BIT | opcode:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"opcode byte {data[1]:#04x}")
    if len(data) < _HEADER.size:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"{len(data)} bytes")
    _v, _op, result, epoch = _HEADER.unpack_from(data)
    return result, epoch


def decode_external(data: bytes) -> ExternalReply:
    result, epoch = _header(data, OPCODE_EXTERNAL)
    if result != Result.SUCCESS:
        return ExternalReply(result, epoch, ipaddress.IPv4Address(0))
    if len(data) < _EXTERNAL_REPLY.size:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"{len(data)} bytes")
    return ExternalReply(result, epoch, ipaddress.IPv4Address(data[8:12]))


def decode_map(data: bytes, proto: Proto, internal_port: int) -> MapReply:
    """Parse the reply to a map request for ``proto``/``internal_port``."""
    result, epoch = _header(data, OPCODE[proto])
    if result != Result.SUCCESS and len(data) < _MAP_REPLY.size:
        # §3.5: a refusal may be only the 8-byte header.
        return MapReply(result, epoch, internal_port, 0, 0)
    if len(data) < _MAP_REPLY.size:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"{len(data)} bytes")
    _v, _op, result, epoch, internal, external, lifetime = _MAP_REPLY.unpack_from(data)
    if internal != internal_port:
        raise PortmapError("portmap.bad_reply", method="NAT-PMP", detail=f"internal port {internal}")
    return MapReply(result, epoch, internal, external, lifetime)


def reason_key(code: int) -> str:
    if code in Result.__members__.values():
        return f"portmap.natpmp.{Result(code).name.lower()}"
    return "portmap.unknown_code"


def check_result(result: int) -> None:
    if result != Result.SUCCESS:
        raise PortmapRefused("portmap.refused", method="NAT-PMP", code=result, reason_key=reason_key(result))
