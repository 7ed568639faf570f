"""A DNS server on 127.0.0.1 that refuses updates the way PowerDNS 4.7 refuses a wrong TSIG key.

Queries get an empty NXDOMAIN.  An UPDATE gets an unsigned REFUSED whose header
keeps the request's section counts while the body holds the zone section only,
a reply dnspython cannot parse (it reports ``FormError``), which is what users of
PowerDNS saw with a wrong key name, secret or algorithm.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

import dns.message
import dns.rcode

OPCODE_UPDATE = 5


def _zone_section_end(wire: bytes) -> int:
    i = 12
    while wire[i] != 0:
        i += wire[i] + 1
    return i + 5  # the root label, type and class


def answer(wire: bytes) -> bytes:
    qid, flags = struct.unpack("!HH", wire[:4])
    if (flags >> 11) & 0x0F == OPCODE_UPDATE:
        refused = (flags | 0x8000) & ~0x000F | dns.rcode.REFUSED
        return struct.pack("!HH", qid, refused) + wire[4:12] + wire[12:_zone_section_end(wire)]
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


class UnsignedRefuser:
    """``async with UnsignedRefuser() as server``: ``server.endpoint`` is "127.0.0.1:<port>"."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.updates = 0
        self.endpoint = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            wire = await reader.readexactly(size)
            if (struct.unpack("!H", wire[2:4])[0] >> 11) & 0x0F == OPCODE_UPDATE:
                self.updates += 1
            reply = answer(wire)
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> UnsignedRefuser:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.endpoint = f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
