"""Fake Minecraft servers and a tiny DNS server for the query/probe tests (loopback only).

Packets are written from the protocol descriptions (minecraft.wiki "Java Edition
protocol/Server List Ping" and "RakNet"), not from any client's code:

Java (1.7+): every packet is ``VarInt length | VarInt id | fields``. The client sends
Handshake (id 0: VarInt protocol, String host, UShort port, VarInt next_state=1),
then Status Request (id 0, empty); we answer Status Response (id 0, String json).
A String is ``VarInt byte-length | UTF-8``. Ping (id 1, Long) is echoed as Pong.

Legacy (pre-1.7): the client sends ``FE 01 ...``; the server answers a kick packet
``FF | UShort length-in-chars | UTF-16BE "§1\\0proto\\0version\\0motd\\0online\\0max"``.

Bedrock: Unconnected Ping ``01 | Long time | MAGIC | Long client GUID``; the server
answers Unconnected Pong ``1C | Long time | Long server GUID | MAGIC | UShort length |
"MCPE;motd;protocol;version;online;max;server-id;motd2;gamemode;1;port4;port6;"``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

import dns.asyncresolver
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")


# --------------------------------------------------------------------------- Java encoding


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFF  # two's complement, 32 bits
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def mc_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return varint(len(data)) + data


def packet(packet_id: int, payload: bytes) -> bytes:
    body = varint(packet_id) + payload
    return varint(len(body)) + body


def status_response(status: object) -> bytes:
    text = status if isinstance(status, str) else json.dumps(status)
    return packet(0, mc_string(text))


def legacy_kick(protocol: int, version: str, motd: str, online: int, maximum: int) -> bytes:
    text = "\0".join(["§1", str(protocol), version, motd, str(online), str(maximum)])
    return b"\xff" + struct.pack(">H", len(text.encode("utf-16-be")) // 2) + text.encode("utf-16-be")


async def read_varint(reader: asyncio.StreamReader) -> int:
    result = 0
    for shift in range(0, 35, 7):
        byte = (await reader.readexactly(1))[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise ValueError("varint too long")


def _take_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 35, 7):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
    raise ValueError("varint too long")


@dataclass(frozen=True)
class Handshake:
    protocol: int
    host: str
    port: int
    next_state: int


def parse_handshake(body: bytes) -> Handshake:
    packet_id, pos = _take_varint(body, 0)
    assert packet_id == 0, packet_id
    protocol, pos = _take_varint(body, pos)
    size, pos = _take_varint(body, pos)
    host = body[pos : pos + size].decode("utf-8")
    pos += size
    (port,) = struct.unpack(">H", body[pos : pos + 2])
    next_state, _ = _take_varint(body, pos + 2)
    return Handshake(protocol, host, port, next_state)


# --------------------------------------------------------------------------- Java fake

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "JavaFake"], Awaitable[None]]


@dataclass
class JavaFake:
    """A TCP server on ``host`` (an ephemeral port unless given) running ``behaviour``."""

    behaviour: Behaviour
    host: str = "127.0.0.1"
    port: int = 0
    handshakes: list[Handshake] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _hold: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> JavaFake:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._hold.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def hold(self) -> None:
        """Wait until the fake is stopped (a server that never answers)."""
        await self._hold.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.behaviour(reader, writer, self)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def modern(status: object, *, legacy: bytes | None = None, answer_ping: bool = True) -> Behaviour:
    """A 1.7+ server: status JSON (dict or raw text); ``legacy`` answers an 0xFE ping too."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: JavaFake) -> None:
        first = await reader.readexactly(1)
        if first == b"\xfe":
            if legacy is not None:
                writer.write(legacy)
                await writer.drain()
            return
        # That byte starts the handshake's VarInt length.
        length = first[0] & 0x7F
        if first[0] & 0x80:
            length |= (await read_varint(reader)) << 7
        fake.handshakes.append(parse_handshake(await reader.readexactly(length)))
        request_length = await read_varint(reader)
        assert await reader.readexactly(request_length) == b"\x00"
        writer.write(status_response(status))
        await writer.drain()
        if answer_ping:
            try:
                length = await asyncio.wait_for(read_varint(reader), 2)
                body = await reader.readexactly(length)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError):
                return
            writer.write(varint(len(body)) + body)  # Pong echoes id 1 and the Long
            await writer.drain()

    return run


def legacy_only(kick: bytes, *, hang: bool = False) -> Behaviour:
    """A pre-1.7 server: hangs up (or, ``hang``, waits forever) on anything but 0xFE,
    answers 0xFE with a kick packet."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: JavaFake) -> None:
        first = await reader.readexactly(1)
        if first != b"\xfe":
            if hang:
                await fake.hold()
            return
        await asyncio.wait_for(reader.readexactly(2), 2)  # 01 FA
        writer.write(kick)
        await writer.drain()

    return run


def silent() -> Behaviour:
    """Accepts and never answers (tests a timeout)."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: JavaFake) -> None:
        await fake.hold()

    return run


def close_at_once() -> Behaviour:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: JavaFake) -> None:
        return

    return run


def raw_reply(data: bytes, *, after_request: bool = True) -> Behaviour:
    """Send ``data`` (garbage, truncated packets...) and hang up."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: JavaFake) -> None:
        if after_request:
            first = await reader.readexactly(1)
            if first != b"\xfe":
                length = first[0] & 0x7F
                if first[0] & 0x80:
                    length |= (await read_varint(reader)) << 7
                fake.handshakes.append(parse_handshake(await reader.readexactly(length)))
        writer.write(data)
        await writer.drain()

    return run


# --------------------------------------------------------------------------- Bedrock fake


def pong_string(
    motd: str = "Dedicated Server",
    protocol: int = 712,
    version: str = "1.21.2",
    online: int = 0,
    maximum: int = 10,
    motd2: str | None = "Bedrock level",
    gamemode: str = "Survival",
) -> str:
    fields = ["MCPE", motd, str(protocol), version, str(online), str(maximum), "12345678901234567890"]
    if motd2 is not None:
        fields += [motd2, gamemode, "1", "19132", "19133"]
    return ";".join(fields) + ";"


def unconnected_pong(ping: bytes, text: str, server_guid: int = 0x1122334455667788) -> bytes:
    data = text.encode("utf-8")
    return b"\x1c" + ping[1:9] + struct.pack(">Q", server_guid) + MAGIC + struct.pack(">H", len(data)) + data


class BedrockFake(asyncio.DatagramProtocol):
    """Answers unconnected pings with ``text`` (or ``reply`` bytes, or nothing when both None)."""

    def __init__(self, text: str | None = None, reply: bytes | None = None, drop_first: int = 0) -> None:
        self.text = text
        self.reply = reply
        self.drop_first = drop_first
        self.pings = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        is_ping = len(data) == 33 and data[0] == 0x01 and data[9:25] == MAGIC
        if not is_ping:
            return
        self.pings += 1
        if self.pings <= self.drop_first:
            return  # a lost datagram: the client must ask again
        assert self.transport is not None
        if self.reply is not None:
            self.transport.sendto(self.reply, addr)
        elif self.text is not None:
            self.transport.sendto(unconnected_pong(data, self.text), addr)


@dataclass
class BedrockServerHandle:
    protocol: BedrockFake
    transport: asyncio.DatagramTransport
    port: int

    def close(self) -> None:
        self.transport.close()


async def start_bedrock(fake: BedrockFake, host: str = "127.0.0.1", port: int = 0) -> BedrockServerHandle:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: fake, local_addr=(host, port))
    return BedrockServerHandle(fake, transport, transport.get_extra_info("sockname")[1])


def free_port_everywhere(attempts: int = 50) -> int:
    """A port free for TCP and UDP on both 127.0.0.1 and ::1 at this moment (bounded retries)."""
    for _ in range(attempts):
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        port = int(probe.getsockname()[1])
        probe.close()
        ok = True
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                sock = socket.socket(family, kind)
                try:
                    sock.bind((host, port))
                except OSError:
                    ok = False
                finally:
                    sock.close()
        if ok:
            return port
    raise RuntimeError("no port free on every loopback socket")


# --------------------------------------------------------------------------- DNS fake


class FakeDns(asyncio.DatagramProtocol):
    """Authoritative-looking answers from ``records[(name, type)] = [rdata text, ...]``."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = {(dns.name.from_text(n), dns.rdatatype.from_text(t)): v for (n, t), v in records.items()}
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        texts = self.records.get((question.name, question.rdtype))
        if texts:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", question.rdtype, texts))
        elif not any(name == question.name for name, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@dataclass
class DnsHandle:
    server: FakeDns
    transport: asyncio.DatagramTransport
    port: int

    def resolver(self) -> dns.asyncresolver.Resolver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        resolver.timeout = 1.0
        resolver.lifetime = 2.0
        return resolver

    def close(self) -> None:
        self.transport.close()


async def start_dns(records: dict[tuple[str, str], list[str]]) -> DnsHandle:
    loop = asyncio.get_running_loop()
    server = FakeDns(records)
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    return DnsHandle(server, transport, transport.get_extra_info("sockname")[1])

