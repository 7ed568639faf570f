"""Minecraft status pings, as a thin layer over ``mcstatus``.

``mcstatus`` owns the packet codecs (Java Server List Ping, the pre-1.7 legacy
ping, the Bedrock/RakNet unconnected ping). This module owns what it leaves to
the caller: which address (and so which family) is contacted, one deadline per
ping, the legacy fallback, a strict reading of what a server may send, and the
frozen values the rest of the program uses (``ServerStatus``, ``ProbeResult``).

Every failure leaves here as ``NetTimeout``, ``NetworkError`` or ``ProtocolError``;
whatever bytes a server sends, nothing else escapes (``CancelledError`` aside).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from mcstatus._net.address import Address
from mcstatus._protocol.bedrock_client import BedrockClient
from mcstatus._protocol.io.buffer import Buffer
from mcstatus._protocol.io.connection import TCPAsyncSocketConnection
from mcstatus._protocol.java_client import AsyncJavaClient
from mcstatus._protocol.legacy_client import AsyncLegacyClient

from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError
from nat1_traversal.model import Endpoint, IPAddress
from nat1_traversal.net import loopback_of

log = logging.getLogger(__name__)

Edition = Literal["java", "bedrock"]
T = TypeVar("T")

# Protocol number we announce in the handshake. Any value works for the status
# state; 47 (1.8) is what most status tools send and what old proxies accept.
JAVA_HANDSHAKE_PROTOCOL = 47
# Share of the deadline for the modern ping when the server accepted the connection;
# the rest is left for the legacy ping (servers before 1.7 may just sit silent).
MODERN_SHARE = 0.6
MAX_STATUS_PACKET = 2 * 1024 * 1024  # refuse to buffer more than this for one status reply
# RakNet: "unconnected pong" id and the offline-message magic (minecraft.wiki "RakNet").
RAKNET_UNCONNECTED_PONG = 0x1C
RAKNET_MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")
_PONG_MAGIC_AT = 1 + 8 + 8  # id, ping time, server GUID
BEDROCK_RESEND_INTERVAL = 1.0  # UDP may lose the ping: ask again within the deadline
_MAX_DEPTH = 64  # chat components nest; a hostile server must not exhaust the stack
_FORMAT_CODE = re.compile("§.?", re.DOTALL)
_TRANSLATE_ARG = re.compile(r"%(?:(\d+)\$)?([sd%])")


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What a server said about itself, reduced to what we print and log."""

    edition: Edition
    version_name: str
    protocol: int
    description: tuple[str, ...]
    online: int
    max_players: int
    players: tuple[str, ...] | None = None  # Java sample names; None when no sample was sent
    latency_ms: float = 0.0

    def to_json(self) -> dict[str, object]:
        """The object of SPEC section 7 (key order is part of the output)."""
        players: dict[str, object] = {"max": self.max_players, "online": self.online}
        if self.players is not None:
            players["list"] = list(self.players)
        return {
            "version": {"name": self.version_name, "protocol": self.protocol},
            "description": list(self.description),
            "players": players,
        }

    def summary(self) -> str:
        """One line for logs: description / version / players."""
        text = " / ".join(line.strip() for line in self.description if line.strip())
        return f"{text} | {self.version_name} ({self.protocol}) | {self.online}/{self.max_players}"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    motd: str | None  # one-line summary for logging; None for a plain TCP/UDP service


# --------------------------------------------------------------------------- pure reading


def strip_formatting(text: str) -> str:
    """Drop ``§x`` formatting codes (a dangling ``§`` at the end too)."""
    return _FORMAT_CODE.sub("", text)


def _translate(template: str, args: list[str]) -> str:
    """Fill a Java ``translate`` template: ``%s``, ``%1$s``, ``%d`` and ``%%``."""
    position = 0

    def fill(match: re.Match[str]) -> str:
        nonlocal position
        if match.group(2) == "%":
            return "%"
        if match.group(1) is not None:
            index = int(match.group(1)) - 1
        else:
            index = position
            position += 1
        return args[index] if 0 <= index < len(args) else ""

    return _TRANSLATE_ARG.sub(fill, template)


def flatten_component(value: object, depth: int = 0) -> str:
    """Plain text of a chat component of any shape (string, object, list, nesting).

    We have no language files, so ``translate`` shows its ``fallback`` (1.19.4+)
    or the key itself, with ``with`` arguments filled in either way.
    """
    if depth > _MAX_DEPTH:
        raise ProtocolError("mc.bad_reply", addr="?", reason="chat component nested too deeply")
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "".join(flatten_component(item, depth + 1) for item in value)
    if not isinstance(value, dict):
        return ""
    text = ""
    if "text" in value:
        text = flatten_component(value["text"], depth + 1)
    elif "translate" in value:
        args_raw = value.get("with")
        args = [flatten_component(a, depth + 1) for a in args_raw] if isinstance(args_raw, list) else []
        template = value.get("fallback")
        if not isinstance(template, str):
            template = flatten_component(value["translate"], depth + 1)
        text = _translate(template, args)
    elif isinstance(value.get("score"), dict):
        text = flatten_component(value["score"].get("value"), depth + 1)
    elif "selector" in value:
        text = flatten_component(value["selector"], depth + 1)
    elif "keybind" in value:
        text = flatten_component(value["keybind"], depth + 1)
    extra = value.get("extra")
    if isinstance(extra, list):
        text += "".join(flatten_component(item, depth + 1) for item in extra)
    return text


def description_lines(value: object) -> tuple[str, ...]:
    """Description as printable lines: flattened, codes removed, split on newlines.

    Trailing empty lines are dropped, so an empty description is ``()``.
    """
    lines = strip_formatting(flatten_component(value)).split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    return tuple(lines)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError("mc.bad_reply", addr="?", reason=f"{what} is not an integer")
    return value


def java_status_from_raw(raw: object, latency_ms: float = 0.0) -> ServerStatus:
    """Read the status JSON of a modern Java server; anything off is a ``ProtocolError``."""
    if not isinstance(raw, Mapping):
        raise ProtocolError("mc.bad_reply", addr="?", reason="status is not a JSON object")
    version, players = raw.get("version"), raw.get("players")
    if not isinstance(version, Mapping) or not isinstance(players, Mapping):
        raise ProtocolError("mc.bad_reply", addr="?", reason="version or players missing")
    name = version.get("name")
    if not isinstance(name, str):
        raise ProtocolError("mc.bad_reply", addr="?", reason="version.name is not a string")
    sample = players.get("sample")
    names: tuple[str, ...] | None = None
    if isinstance(sample, list):
        # Servers put adverts and blank lines here too: keep every string name.
        names = tuple(p["name"] for p in sample if isinstance(p, Mapping) and isinstance(p.get("name"), str))
    return ServerStatus(
        edition="java",
        version_name=strip_formatting(name),
        protocol=_int(version.get("protocol"), "version.protocol"),
        description=description_lines(raw.get("description", "")),
        online=_int(players.get("online"), "players.online"),
        max_players=_int(players.get("max"), "players.max"),
        players=names,
        latency_ms=latency_ms,
    )


def bedrock_status_from_pong(data: bytes, latency_ms: float = 0.0) -> ServerStatus:
    """Read a RakNet unconnected pong (the ``MCPE;motd;protocol;version;...`` string)."""
    if data[:1] != bytes([RAKNET_UNCONNECTED_PONG]) or data[_PONG_MAGIC_AT : _PONG_MAGIC_AT + 16] != RAKNET_MAGIC:
        raise ProtocolError("mc.bad_reply", addr="?", reason="not an unconnected pong")
    try:
        response = BedrockClient.parse_response(data, latency_ms)
        motd2 = response.map_name
        lines = [strip_formatting(str(response.motd.raw))]
        if motd2:
            lines.append(strip_formatting(motd2))
        return ServerStatus(
            edition="bedrock",
            version_name=response.version.name,
            protocol=response.version.protocol,
            description=tuple(lines),
            online=response.players.online,
            max_players=response.players.max,
            latency_ms=latency_ms,
        )
    except Exception as exc:  # mcstatus raises whatever int()/decode()/struct raise
        raise ProtocolError("mc.bad_reply", addr="?", reason=repr(exc)) from exc


# --------------------------------------------------------------------------- network


def _addr_text(ip: IPAddress, port: int) -> str:
    return str(Endpoint(ip, port))


async def _within(deadline: float, work: Awaitable[T], addr: str, timeout: float) -> T:
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise NetTimeout("mc.timeout", addr=addr, timeout=timeout)
    try:
        return await asyncio.wait_for(work, remaining)
    except asyncio.TimeoutError as exc:  # also the builtin TimeoutError on 3.11+
        raise NetTimeout("mc.timeout", addr=addr, timeout=timeout) from exc


async def _java_exchange(
    ip: IPAddress,
    port: int,
    server_host: str,
    timeout: float,
    *,
    legacy: bool,
    connected: asyncio.Event | None = None,
) -> ServerStatus:
    addr = _addr_text(ip, port)
    connection = TCPAsyncSocketConnection(Address(str(ip), port), timeout)
    try:
        await connection.connect()
    except asyncio.TimeoutError as exc:
        raise NetTimeout("mc.timeout", addr=addr, timeout=timeout) from exc
    except OSError as exc:
        raise NetworkError("mc.unreachable", addr=addr, reason=exc.strerror or repr(exc)) from exc
    if connected is not None:
        connected.set()
    try:
        if legacy:
            old = await AsyncLegacyClient(connection).read_status()
            return ServerStatus(
                edition="java",
                version_name=strip_formatting(old.version.name),
                protocol=old.version.protocol,
                description=description_lines(old.motd.raw),
                online=old.players.online,
                max_players=old.players.max,
                latency_ms=old.latency,
            )
        return await _modern_status(connection, server_host, port)
    except ProtocolError as exc:
        raise ProtocolError("mc.bad_reply", addr=addr, reason=exc.fields.get("reason")) from exc
    except asyncio.TimeoutError as exc:
        raise NetTimeout("mc.timeout", addr=addr, timeout=timeout) from exc
    except Exception as exc:  # mcstatus: OSError, ValueError, KeyError, TypeError, RecursionError...
        raise ProtocolError("mc.bad_reply", addr=addr, reason=repr(exc)[:200]) from exc
    finally:
        await _close_quietly(connection)


async def _modern_status(connection: TCPAsyncSocketConnection, server_host: str, port: int) -> ServerStatus:
    """Handshake (next state 1), Status Request, Status Response (minecraft.wiki "Server List Ping").

    mcstatus writes the handshake and frames packets; we read the response ourselves,
    because its reader caps the JSON at 32767 characters (modded servers send more)
    and its description parser rejects valid shapes such as nested lists.
    """
    client = AsyncJavaClient(connection, address=Address(server_host, port), version=JAVA_HANDSHAKE_PROTOCOL)
    await client.handshake()
    request = Buffer()
    request.write_varint(0)  # Status Request: packet id 0, no fields
    await connection.write_bytearray(request)
    started = time.perf_counter()
    length = await connection.read_varint()
    if not 0 < length <= MAX_STATUS_PACKET:
        raise ProtocolError("mc.bad_reply", addr="?", reason=f"status packet of {length} bytes")
    packet = Buffer(await connection.read(length))
    latency_ms = (time.perf_counter() - started) * 1000
    if packet.read_varint() != 0:
        raise ProtocolError("mc.bad_reply", addr="?", reason="not a status response packet")
    size = packet.read_varint()
    body = bytes(packet[packet.pos :])
    if size != len(body):
        raise ProtocolError("mc.bad_reply", addr="?", reason=f"string of {size} bytes in {len(body)}")
    try:
        raw = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ProtocolError("mc.bad_reply", addr="?", reason="status is not JSON") from exc
    return java_status_from_raw(raw, latency_ms)


async def _close_quietly(connection: TCPAsyncSocketConnection) -> None:
    try:
        await connection.close()
    except OSError as exc:  # a reset during close says nothing about the answer we have
        log.debug("closing status connection: %r", exc)


async def java_status(
    ip: IPAddress, port: int, *, server_host: str | None = None, timeout: float = 5.0
) -> ServerStatus:
    """Server List Ping to ``ip:port``; a pre-1.7 server is asked again with the legacy ping.

    ``server_host`` goes into the handshake (virtual-host proxies route on it);
    it defaults to the literal address. One deadline covers both attempts.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    addr = _addr_text(ip, port)
    host = server_host or str(ip)
    connected = asyncio.Event()
    try:
        return await _within(
            loop.time() + timeout * MODERN_SHARE,
            _java_exchange(ip, port, host, timeout, legacy=False, connected=connected),
            addr,
            timeout,
        )
    except (ProtocolError, NetTimeout) as exc:
        if not connected.is_set():
            raise  # nothing listens (or the network is slow): no second try
        first = exc
    # Connected, but no modern answer: maybe a server older than 1.7. Those hang up
    # on (or wait forever for the rest of) a handshake they cannot read; they
    # understand only the 0xFE ping.
    log.debug("java status %s failed (%s); trying the legacy ping", addr, first.fields.get("reason", first.key))
    try:
        return await _within(deadline, _java_exchange(ip, port, host, timeout, legacy=True), addr, timeout)
    except (ProtocolError, NetworkError) as second:
        log.debug("legacy ping %s failed too: %s", addr, second.fields.get("reason", second.key))
        raise first from None


class _PongCatcher(asyncio.DatagramProtocol):
    """Waits for the first datagram that looks like an unconnected pong."""

    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.answer.done():
            return
        if data[:1] == bytes([RAKNET_UNCONNECTED_PONG]) and len(data) >= _PONG_MAGIC_AT + 16:
            self.answer.set_result(data)
        else:
            log.debug("ignoring %d-byte datagram that is not a pong: %r", len(data), data[:40])

    def error_received(self, exc: Exception) -> None:
        # On a connected UDP socket an ICMP "port unreachable" shows up here.
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _bedrock_exchange(ip: IPAddress, port: int, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _PongCatcher(answer), remote_addr=(str(ip), port)
    )
    try:
        while True:
            transport.sendto(BedrockClient.request_status_data)
            done, _ = await asyncio.wait({answer}, timeout=min(BEDROCK_RESEND_INTERVAL, timeout))
            if done:
                return answer.result()
    finally:
        transport.close()
        if not answer.done():
            answer.cancel()


async def bedrock_status(ip: IPAddress, port: int, *, timeout: float = 5.0) -> ServerStatus:
    """RakNet unconnected ping to ``ip:port`` (resent every second until the deadline)."""
    addr = _addr_text(ip, port)
    deadline = asyncio.get_running_loop().time() + timeout
    started = time.perf_counter()
    try:
        data = await _within(deadline, _bedrock_exchange(ip, port, timeout), addr, timeout)
    except OSError as exc:
        raise NetworkError("mc.unreachable", addr=addr, reason=exc.strerror or repr(exc)) from exc
    try:
        return bedrock_status_from_pong(data, (time.perf_counter() - started) * 1000)
    except ProtocolError as exc:
        raise ProtocolError("mc.bad_reply", addr=addr, reason=exc.fields.get("reason")) from exc


# --------------------------------------------------------------------------- local probe


async def _tcp_connect(ip: IPAddress, port: int, timeout: float) -> None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(str(ip), port), timeout)
    except asyncio.TimeoutError as exc:
        raise NetTimeout("mc.timeout", addr=_addr_text(ip, port), timeout=timeout) from exc
    except OSError as exc:
        raise NetworkError("mc.unreachable", addr=_addr_text(ip, port), reason=exc.strerror or repr(exc)) from exc
    writer.close()
    try:
        await writer.wait_closed()
    except OSError as exc:
        log.debug("closing probe connection: %r", exc)


async def probe_local(service_type: str, endpoint: Endpoint, *, timeout: float = 3.0) -> ProbeResult:
    """Is the local service up? mcje/mcbe: a status ping; web/tcp: a TCP connect; udp: not probed."""
    target = loopback_of(endpoint)
    probes: dict[str, Callable[[], Awaitable[ServerStatus | None]]] = {
        "mcje": lambda: java_status(target.ip, target.port, timeout=timeout),
        "mcbe": lambda: bedrock_status(target.ip, target.port, timeout=timeout),
        "web": lambda: _tcp_connect(target.ip, target.port, timeout),
        "tcp": lambda: _tcp_connect(target.ip, target.port, timeout),
    }
    if service_type == "udp":
        return ProbeResult(ok=True, motd=None)
    if service_type not in probes:
        raise ValueError(f"unknown service type {service_type!r}")
    try:
        status = await probes[service_type]()
    except (NetTimeout, NetworkError, ProtocolError) as exc:
        log.debug("local probe %s %s failed: %s", service_type, target, exc.fields.get("reason", exc.key))
        return ProbeResult(ok=False, motd=None)
    return ProbeResult(ok=True, motd=status.summary() if status is not None else None)

