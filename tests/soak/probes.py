"""What a player in ``inet`` does: resolve the published name, then ping the server there.

Plain blocking sockets with short timeouts, run on threads that live in the ``inet``
namespace (``NatLab.call_in``), so every socket is a lab socket. The burst uses asyncio on
such a thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from tests.support.mcfakes import MAGIC, mc_string, packet, varint

PROTOCOL = 767  # 1.21.1, what the lab's Java server reports


@dataclass(frozen=True, slots=True)
class Probe:
    service: str  # "mcje" | "mcbe"
    at: float  # time.monotonic() when the probe started
    ok: bool
    target: str  # "ip:port" the name pointed at, or "" when it did not resolve
    detail: str  # why it failed ("" when ok)
    seconds: float  # how long it took


class ProbeFailure(Exception):
    pass


# --------------------------------------------------------------------------- DNS


def resolve_srv(server: str, name: str, source: str, timeout: float) -> tuple[str, int]:
    """SRV ``name`` then A of its target, both asked of ``server`` directly (UDP): (ip, port)."""
    srv = _ask(server, name, "SRV", source, timeout)
    if not srv:
        raise ProbeFailure(f"no SRV {name}")
    target, port = str(srv[0].target).rstrip("."), int(srv[0].port)
    a = _ask(server, target, "A", source, timeout)
    if not a:
        raise ProbeFailure(f"no A {target}")
    return str(a[0].address), port


def _ask(server: str, name: str, rtype: str, source: str, timeout: float) -> list[Any]:
    query = dns.message.make_query(name + ".", rtype)
    try:
        answer = dns.query.udp(query, server, port=53, timeout=timeout, source=source)
    except (dns.exception.DNSException, OSError) as exc:
        raise ProbeFailure(f"DNS {rtype} {name}: {type(exc).__name__}") from exc
    wanted = dns.rdatatype.from_text(rtype)
    return [rdata for rrset in answer.answer if rrset.rdtype == wanted for rdata in rrset]


# --------------------------------------------------------------------------- Java status


def java_request(host: str, port: int) -> bytes:
    handshake = packet(0, varint(PROTOCOL) + mc_string(host) + struct.pack(">H", port) + varint(1))
    return handshake + packet(0, b"")


def _read_varint(sock: socket.socket) -> int:
    value = 0
    for shift in range(0, 35, 7):
        byte = sock.recv(1)
        if not byte:
            raise ProbeFailure("connection closed")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    raise ProbeFailure("bad varint")


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProbeFailure("connection closed")
        data += chunk
    return bytes(data)


def java_status(ip: str, port: int, source: str, timeout: float) -> str:
    """The status JSON's description text (the MOTD) of the Java server at ip:port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect((ip, port))
        sock.sendall(java_request(ip, port))
        body = _read_exact(sock, _read_varint(sock))
    except OSError as exc:
        raise ProbeFailure(f"Java {ip}:{port}: {type(exc).__name__}") from exc
    finally:
        sock.close()
    try:
        return _java_motd(body)
    except (ValueError, IndexError, AttributeError) as exc:
        raise ProbeFailure(f"Java {ip}:{port}: a status reply that does not parse") from exc


def _java_motd(body: bytes) -> str:
    pos = 1  # packet id 0
    length, shift = 0, 0
    while True:
        byte = body[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    status = json.loads(body[pos : pos + length].decode("utf-8"))
    description = status.get("description", {})
    return str(description.get("text", "") if isinstance(description, dict) else description)


# --------------------------------------------------------------------------- Bedrock ping


def bedrock_ping_packet() -> bytes:
    return b"\x01" + struct.pack(">Q", int(time.monotonic() * 1000) & 0xFFFFFFFF) + MAGIC + struct.pack(">Q", 0x5A)


def parse_pong(data: bytes) -> list[str]:
    """The fields of an unconnected pong's ``MCPE;…`` string."""
    if len(data) < 35 or data[0] != 0x1C or data[17:33] != MAGIC:
        raise ProbeFailure("not an unconnected pong")
    (size,) = struct.unpack(">H", data[33:35])
    return data[35 : 35 + size].decode("utf-8", "replace").split(";")


def bedrock_status(ip: str, port: int, source: str, timeout: float, source_port: int = 0) -> list[str]:
    """The pong's fields. A real client pings from the one socket it keeps (``source_port``):
    one UDP session in the forwarder, not one per ping (those would meet the per-source cap)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(timeout)
        sock.bind((source, source_port))
        sock.connect((ip, port))
        sock.send(bedrock_ping_packet())
        data = sock.recv(2048)
    except OSError as exc:
        raise ProbeFailure(f"Bedrock {ip}:{port}: {type(exc).__name__}") from exc
    finally:
        sock.close()
    return parse_pong(data)


# --------------------------------------------------------------------------- a burst of players


@dataclass(frozen=True, slots=True)
class BurstResult:
    tcp_ok: int
    tcp_total: int
    udp_ok: int
    udp_total: int
    seconds: float


async def _one_java(ip: str, port: int, source: str, motd: str, timeout: float) -> bool:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port, local_addr=(source, 0)), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(java_request(ip, port))
        await writer.drain()
        length = 0
        for shift in range(0, 35, 7):
            byte = (await asyncio.wait_for(reader.readexactly(1), timeout))[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        body = await asyncio.wait_for(reader.readexactly(length), timeout)
        return _java_motd(body) == motd
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
        return False
    finally:
        writer.close()


class _Pong(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)


async def _one_bedrock(ip: str, port: int, source: str, motd: str, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Pong(answer), local_addr=(source, 0), remote_addr=(ip, port)
        )
    except OSError:
        return False
    try:
        transport.sendto(bedrock_ping_packet())
        data = await asyncio.wait_for(answer, timeout)
        return parse_pong(data)[1] == motd
    except (OSError, asyncio.TimeoutError, ProbeFailure, IndexError):
        return False
    finally:
        transport.close()


async def burst(
    java: tuple[str, int] | None, bedrock: tuple[str, int] | None, sources: list[str], count: int,
    motds: tuple[str, str], timeout: float = 5.0,
) -> BurstResult:
    """``count`` Java status pings and ``count`` Bedrock pings at once, spread over ``sources``."""
    started = time.monotonic()
    tcp: list[asyncio.Future[bool]] = []
    udp: list[asyncio.Future[bool]] = []
    for number in range(count):
        source = sources[number % len(sources)]
        if java is not None:
            tcp.append(asyncio.ensure_future(_one_java(*java, source, motds[0], timeout)))
        if bedrock is not None:
            udp.append(asyncio.ensure_future(_one_bedrock(*bedrock, source, motds[1], timeout)))
    tcp_done = await asyncio.gather(*tcp)
    udp_done = await asyncio.gather(*udp)
    return BurstResult(sum(tcp_done), count, sum(udp_done), count, time.monotonic() - started)
