"""Rewriting the advertised ports of a Bedrock unconnected pong (issue 12)."""

from __future__ import annotations

import struct

import pytest

from nat1_traversal.forward.bedrock import rewrite_pong
from nat1_traversal.minecraft import bedrock_status_from_pong

MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")
# A pong as Bedrock Dedicated Server 1.21 sends it (id, ping time, server GUID, magic,
# string length, string), with a MOTD holding multi-byte UTF-8 and a colour code.
TEXT = "MCPE;§a我的服务器 Dedicated;748;1.21.40;3;10;11863064151446735455;Bedrock level;Survival;1;19132;19133;0;"
REAL = (
    bytes.fromhex("1c" "0000000000a1b2c3" "a4a1c2b3d4e5f607")
    + MAGIC
    + struct.pack(">H", len(TEXT.encode()))
    + TEXT.encode()
)


def fields(pong: bytes) -> list[str]:
    (length,) = struct.unpack_from(">H", pong, 33)
    assert len(pong) == 35 + length  # the length prefix matches the string
    return pong[35:].decode().split(";")


def test_both_ports_become_the_public_port_and_the_rest_is_kept() -> None:
    out = rewrite_pong(REAL, 40001)
    assert out is not None
    assert out[:33] == REAL[:33]  # id, time, GUID, magic untouched
    before, after = fields(REAL), fields(out)
    assert after[10:12] == ["40001", "40001"]
    assert after[:10] == before[:10] and after[12:] == before[12:]
    status = bedrock_status_from_pong(out)  # still a pong our own -q reads
    assert status.online == 3 and status.max_players == 10


def test_a_longer_or_shorter_port_keeps_the_length_prefix_right() -> None:
    for port in (7, 65535):
        out = rewrite_pong(REAL, port)
        assert out is not None
        assert fields(out)[10:12] == [str(port), str(port)]


def test_from_a_memoryview_as_the_relay_passes_it() -> None:
    buf = bytearray(65536)
    buf[: len(REAL)] = REAL
    out = rewrite_pong(memoryview(buf)[: len(REAL)], 40001)
    assert out == rewrite_pong(REAL, 40001)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x1c",
        b"\x01" + REAL[1:],  # an unconnected ping, not a pong
        REAL[:20] + b"\x00" * 16 + REAL[36:],  # no magic
        REAL[:33] + struct.pack(">H", 5000) + REAL[35:],  # a length beyond the datagram
        REAL[:33] + struct.pack(">H", 12) + b"MCPE;motd;1;",  # too few fields
        REAL.replace(b"MCPE", b"XXXX"),  # another game on RakNet
        REAL.replace(b";19132;19133;", b";;;"),  # no ports: nothing to rewrite
        rewrite_pong(REAL, 40001) or b"",  # already right: sent as it is
    ],
)
def test_anything_else_is_left_alone(data: bytes) -> None:
    assert rewrite_pong(data, 40001) is None


def test_education_edition_too() -> None:
    edu = REAL.replace(b"MCPE;", b"MCEE;")
    out = rewrite_pong(edu, 40001)
    assert out is not None and fields(out)[10:12] == ["40001", "40001"]
