"""Bedrock's advertised port: rewrite the ports in RakNet unconnected pongs.

A Bedrock server's unconnected pong (RakNet id 0x1c: ping time, server GUID,
the offline magic, then a length-prefixed string) carries its own IPv4 and IPv6
ports as the 11th and 12th ``;``-separated fields::

    MCPE;motd;protocol;version;online;max;server-id;motd2;gamemode;1;19132;19133;

Clients that follow the advertised port (PrismarineJS ``bedrock-protocol`` does by
default) would then connect to the game server's private port rather than to the
public mapping, and fail. In forward mode the UDP forwarder passes pongs from
``remote`` to players through ``rewrite_pong`` once the mapping is known.
Everything else in the pong (the MOTD's bytes included) is kept byte for byte.
"""

from __future__ import annotations

import struct

from nat1_traversal.minecraft import RAKNET_MAGIC, RAKNET_UNCONNECTED_PONG

# id (1), ping time (8), server GUID (8), magic (16), string length (2).
_MAGIC_AT = 1 + 8 + 8
_LENGTH_AT = _MAGIC_AT + 16
_TEXT_AT = _LENGTH_AT + 2
_EDITIONS = (b"MCPE", b"MCEE")
_PORT_FIELDS = (10, 11)  # 0-based: the 11th and 12th fields


def rewrite_pong(data: bytes | bytearray | memoryview, port: int) -> bytes | None:
    """The pong with both advertised ports set to ``port``; None when ``data`` is not
    a Bedrock pong with port fields (then it is passed on unchanged)."""
    if len(data) < _TEXT_AT or data[0] != RAKNET_UNCONNECTED_PONG or data[_MAGIC_AT:_LENGTH_AT] != RAKNET_MAGIC:
        return None
    (length,) = struct.unpack_from(">H", data, _LENGTH_AT)
    end = _TEXT_AT + length
    if end > len(data):
        return None
    fields = bytes(data[_TEXT_AT:end]).split(b";")
    if len(fields) <= max(_PORT_FIELDS) or fields[0] not in _EDITIONS:
        return None
    wanted = str(port).encode()
    changed = False
    for index in _PORT_FIELDS:
        if fields[index].isdigit() and fields[index] != wanted:
            fields[index] = wanted
            changed = True
    if not changed:
        return None
    text = b";".join(fields)
    return bytes(data[:_LENGTH_AT]) + struct.pack(">H", len(text)) + text + bytes(data[end:])
