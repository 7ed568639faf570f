"""A status server on 127.0.0.1 with two services, driven through the registry, and a raw HTTP client."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nat1_traversal.model import Endpoint, Secret
from nat1_traversal.status.registry import StatusRegistry
from nat1_traversal.status.server import StatusServer

LOOPBACK = Endpoint(ipaddress.IPv4Address("127.0.0.1"), 0)
JAVA_MAPPING = "203.0.113.7:40123"
BEDROCK_MAPPING = "203.0.113.7:41999"


def two_services(version: str = "1.2.3") -> StatusRegistry:
    """java (shared-port, mapped twice: one remap, DNS ok) and bedrock (forward, DNS failing)."""
    registry = StatusRegistry(version)
    registry.add_service("java", type="mcje", proto="tcp", mode="shared", local="0.0.0.0:25565",
                         remote=None, dns_name="mc.example.com")
    registry.add_service("bedrock", type="mcbe", proto="udp", mode="forward", local="0.0.0.0:19132",
                         remote="127.0.0.1:19133", dns_name="mc.example.com")
    registry.set_mapping("java", "203.0.113.7:40000")
    registry.set_mapping("java", JAVA_MAPPING)
    registry.dns_published("java")
    registry.set_reachable("java", True)
    registry.set_mapping("bedrock", BEDROCK_MAPPING)
    registry.dns_failed("bedrock", "限流 <rate limited>")
    return registry


@asynccontextmanager
async def running_server(
    registry: StatusRegistry, token: str | None = None, *, max_connections: int = 32, read_timeout: float = 5.0
) -> AsyncIterator[StatusServer]:
    server = StatusServer(registry, LOOPBACK, Secret(token) if token else None,
                          max_connections=max_connections, read_timeout=read_timeout)
    assert await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


async def raw_request(port: int, data: bytes, timeout: float = 5.0) -> Reply:
    """Send ``data`` as is and read the whole reply (the server closes after one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        await writer.wait_closed()
    return parse_reply(raw)


async def get(port: int, target: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return await raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def parse_reply(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status_line.split(" ")[1]), headers, body)
