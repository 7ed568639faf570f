"""Several services in one process on loopback: fake STUN (TCP and UDP with rules of their own),
a fake keepalive server, configs through the real ``services`` merge, a recording DNS provider."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest_asyncio

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider, Record, SrvData
from nat1_traversal.model import Endpoint
from nat1_traversal.service_config import parse_file
from tests.support.keeper_fakes import Addr, FakeHttp, FakeStunTcp, FakeStunUdp, MappedRule
from tests.support.status_kit import get

PUBLIC = ipaddress.IPv4Address("198.51.100.7")


class PortRule(MappedRule):
    """A full cone NAT: the public port is the source port plus ``shift`` (a remap changes ``shift``)."""

    def __init__(self, ip: ipaddress.IPv4Address = PUBLIC, shift: int = 1000) -> None:
        super().__init__()
        self.ip = ip
        self.shift = shift

    def mapped(self, source: Addr, server_port: int, server_ip: str = "127.0.0.1") -> Endpoint:
        return Endpoint(self.ip, (source[1] + self.shift) % 64000 + 1024)

    def outer_of(self, port: int) -> str:
        return str(Endpoint(self.ip, (port + self.shift) % 64000 + 1024))


class Servers:
    def __init__(self) -> None:
        self.tcp_rule = PortRule()
        self.udp_rule = PortRule()
        self.stun_tcp: list[FakeStunTcp] = []
        self.stun_udp: list[FakeStunUdp] = []
        self.http: list[FakeHttp] = []

    def keys(self) -> dict[str, Any]:
        """The config keys that point every service at these servers only."""
        return {
            "dns": "no_dns", "status": False, "upnp": False,
            "reach_check": False,  # no checker and no hairpin: the fake public addresses are never contacted
            "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in self.stun_tcp)],
            "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in self.stun_udp)],
            "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in self.http)],
            "keepalive_interval": 1,
        }

    def config(self, services: Sequence[dict[str, Any]], **top: Any) -> Config:
        config, _warnings = parse_file({**self.keys(), **top, "services": list(services)})
        return config


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[Servers]:
    s = Servers()
    s.stun_tcp = [await FakeStunTcp(s.tcp_rule).start() for _ in range(2)]
    s.stun_udp = [await FakeStunUdp(s.udp_rule).start() for _ in range(2)]
    s.http = [await FakeHttp().start()]
    yield s
    tcp_servers: list[FakeStunTcp | FakeHttp] = [*s.stun_tcp, *s.http]
    for tcp in tcp_servers:
        await tcp.close()
    for udp in s.stun_udp:
        udp.close()


class CountingServer:
    """A TCP server that accepts and hangs up at once (a STUN server that fails); counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> CountingServer:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _client(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.transport.abort()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class Zone:
    """What a DNS zone holds, shared by every provider the account pool creates, and every write."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Record] = {}
        self.writes: list[Record] = []
        self.syncs: list[list[Record]] = []


class RecordingProvider(Provider):
    label = "recording"

    def __init__(self, settings: DnsSettings, zone: Zone) -> None:
        super().__init__(settings)
        self.zone = zone
        self.closed = False

    async def sync(self, records: Sequence[Record]) -> int:
        self.zone.syncs.append(list(records))
        writes = 0
        for record in records:
            key = (record.type, record.name)
            if key in self.zone.records and self.zone.records[key].same_content(record):
                continue
            self.zone.records[key] = record
            self.zone.writes.append(record)
            writes += 1
        return writes

    async def aclose(self) -> None:
        self.closed = True


def address_of(zone: Zone, name: str) -> str | None:
    record = zone.records.get(("A", name))
    return None if record is None or not isinstance(record.data, str) else record.data


def srv_port(zone: Zone, name: str) -> int | None:
    record = zone.records.get(("SRV", name))
    return None if record is None or not isinstance(record.data, SrvData) else record.data.port


async def api_services(port: int) -> dict[str, dict[str, Any]]:
    """GET /api/status: name -> service entry."""
    reply = await get(port, "/api/status")
    assert reply.status == 200
    data = json.loads(reply.body)
    return {entry["name"]: entry for entry in data["services"]}
