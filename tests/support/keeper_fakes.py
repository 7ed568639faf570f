"""In-process fake servers for the keeper tests: STUN over UDP and TCP, HTTP keepalive.

All listen on 127.0.0.1 with a kernel-chosen port. Each can be told what mapped
address to report (to emulate a remap), to go silent, or to drop its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable
from typing import cast

from nat1_traversal.model import Endpoint
from nat1_traversal.stun.codec import (
    HEADER_SIZE,
    Attribute,
    AttrType,
    ChangeRequest,
    Message,
    MessageClass,
    Method,
    body_length,
    decode,
    encode,
)

Addr = tuple[str, int]


def _response(request: Message, mapped: Endpoint, other: Endpoint | None = None) -> bytes:
    attrs = [Attribute(AttrType.XOR_MAPPED_ADDRESS, mapped)]
    if other is not None:
        attrs.append(Attribute(AttrType.OTHER_ADDRESS, other))
    return encode(Message(Method.BINDING, MessageClass.SUCCESS, request.transaction_id, tuple(attrs)))


class MappedRule:
    """What a fake reports: the real source, or a fixed outer address (a fake NAT)."""

    def __init__(self) -> None:
        self.outer: Endpoint | None = None
        self.per_server_port: int | None = None  # symmetric NAT: a port of the server's own
        self.per_destination = False  # symmetric NAT: a port per server IP and port
        self.always_new = False  # a new port for every request (a mapping per connection)
        self._count = 0

    def mapped(self, source: Addr, server_port: int, server_ip: str = "127.0.0.1") -> Endpoint:
        public = ipaddress.ip_address("198.51.100.7")
        if self.always_new:
            self._count += 1
            return Endpoint(public, 40000 + self._count)
        if self.per_destination:
            return Endpoint(public, 50000 + int(server_ip.rsplit(".", 1)[-1]) * 100 + server_port % 100)
        if self.per_server_port is not None:
            return Endpoint(ipaddress.ip_address("198.51.100.7"), self.per_server_port + server_port % 1000)
        if self.outer is not None:
            return self.outer
        return Endpoint(ipaddress.ip_address(source[0]), source[1])


class FakeStunUdp(asyncio.DatagramProtocol):
    def __init__(self, rule: MappedRule | None = None) -> None:
        self.rule = rule or MappedRule()
        self.silent = False
        self.requests = 0
        self.sources: list[Addr] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.alt: FakeStunUdp | None = None  # answers CHANGE-REQUESTs when set (OTHER-ADDRESS)
        self.port_alt: FakeStunUdp | None = None  # primary IP, alt port: answers "change port"
        self.ip_alt: FakeStunUdp | None = None  # alt IP, primary port (mapping test II)
        self.ignore_change = False  # a server that ignores CHANGE-REQUEST: answers from here
        self.answer_change_ip = True
        self.answer_change_port = True
        self.one_shot: Endpoint | None = None  # report this once, then the rule again

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeStunUdp:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        return self

    @property
    def addr(self) -> Addr:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return (str(host), int(port))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        if self.silent or self.transport is None:
            return
        try:
            request = decode(data)
        except Exception:
            return
        self.requests += 1
        self.sources.append(addr)
        mapped = self.rule.mapped(addr, self.addr[1], self.addr[0])
        if self.one_shot is not None:
            mapped, self.one_shot = self.one_shot, None
        change = request.get(AttrType.CHANGE_REQUEST)
        other = None
        if self.alt is not None:
            other = Endpoint(ipaddress.ip_address(self.alt.addr[0]), self.alt.addr[1])
        reply = _response(request, mapped, other)
        if isinstance(change, ChangeRequest) and (change.change_ip or change.change_port) and not self.ignore_change:
            if self.alt is None:
                return
            allowed = self.answer_change_ip if change.change_ip else self.answer_change_port
            sender = self.alt if change.change_ip or self.port_alt is None else self.port_alt
            if allowed and sender.transport is not None:
                sender.transport.sendto(reply, addr)
            return
        self.transport.sendto(reply, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def start_rfc5780(
    rule: MappedRule | None = None, host: str = "127.0.0.1", alt_host: str = "127.0.0.2"
) -> FakeStunUdp:
    """A primary server at ``host``:P with an RFC 5780 alternate: ``alt`` at ``alt_host``:Q
    (its OTHER-ADDRESS), ``port_alt`` at ``host``:Q and ``ip_alt`` at ``alt_host``:P, the
    four addresses of RFC 5780 section 6, so each CHANGE-REQUEST is answered from exactly
    the address asked for and the mapping tests II and III find a server. The caller
    closes them with ``close_rfc5780``."""
    for _ in range(20):  # ports free on both addresses
        started: list[FakeStunUdp] = []
        try:
            primary = await FakeStunUdp(rule).start(host)
            started.append(primary)
            ip_alt = await FakeStunUdp(rule).start(alt_host, primary.addr[1])
            started.append(ip_alt)
            alt = await FakeStunUdp(rule).start(alt_host)
            started.append(alt)
            port_alt = await FakeStunUdp(rule).start(host, alt.addr[1])
        except OSError:
            for server in started:
                server.close()
            continue
        primary.alt, primary.port_alt, primary.ip_alt = alt, port_alt, ip_alt
        return primary
    raise RuntimeError("no ports free on both addresses")


def close_rfc5780(primary: FakeStunUdp) -> None:
    for server in (primary, primary.alt, primary.port_alt, primary.ip_alt):
        if server is not None:
            server.close()


class FakeStunTcp:
    """STUN over TCP (RFC 8489 section 7.2.2 framing: messages back to back)."""

    def __init__(self, rule: MappedRule | None = None) -> None:
        self.rule = rule or MappedRule()
        self.silent = False
        self.requests = 0
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeStunTcp:
        self.server = await asyncio.start_server(self._client, host, port)
        return self

    @property
    def addr(self) -> Addr:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return (str(host), int(port))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                header = await reader.readexactly(HEADER_SIZE)
                body = await reader.readexactly(body_length(header))
                if self.silent:
                    continue
                self.requests += 1
                source = writer.get_extra_info("peername")[:2]
                request = decode(header + body)
                writer.write(_response(request, self.rule.mapped(source, self.addr[1])))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self.server.wait_closed()
            self.server = None


class FakeHttp:
    """An HTTP/1.1 keep-alive server answering every request head with 200."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.silent = False
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.on_request: Callable[[], None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeHttp:
        self.server = await asyncio.start_server(self._client, host, port)
        return self

    @property
    def addr(self) -> Addr:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return (str(host), int(port))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if self.silent:
                    continue
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n")
                await writer.drain()
                if self.on_request is not None:
                    self.on_request()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def drop_connections(self) -> None:
        """Reset every open connection (what a NAT remap looks like from inside)."""
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.drop_connections()
            await self.server.wait_closed()
            self.server = None
