"""SPEC section 11 on loopback: several services in one process under the supervisor.

Real keepers, forwarders and status server against the fake STUN/HTTP servers on
127.0.0.1 (TCP and UDP STUN with NAT rules of their own, so a TCP remap can happen
alone). Every config: ``upnp`` false, ``status`` false or a port of the test's own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider
from nat1_traversal.publish_shared import AccountPool
from nat1_traversal.supervisor import Supervisor
from tests.support.keeper_kit import FAST
from tests.support.mcfakes import JavaFake, modern
from tests.support.services_kit import (
    CountingServer,
    RecordingProvider,
    Servers,
    Zone,
    address_of,
    api_services,
    servers,
    srv_port,
)
from tests.support.util import free_port

__all__ = ["servers"]  # the fixture


@asynccontextmanager
async def running(
    config: Config, *, accounts: AccountPool | None = None
) -> AsyncIterator[tuple[Supervisor, asyncio.Task[int]]]:
    supervisor = Supervisor(config, timing=FAST, accounts=accounts)
    supervisor.check()
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    try:
        yield supervisor, task
    finally:
        began = time.monotonic()
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 3)
        assert time.monotonic() - began < 1.0


Services = dict[str, dict[str, Any]]


async def poll(port: int, check: Callable[[Services], bool], timeout: float = 10) -> Services:
    """The status API until ``check`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        try:
            seen = await api_services(port)
        except OSError:
            seen = {}
        if seen and check(seen):
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"status never matched: {seen}")


@asynccontextmanager
async def java_server(port: int) -> AsyncIterator[JavaFake]:
    """A Java server holding ``port`` the way hook_bind makes it: shareable (SO_REUSEPORT)."""
    fake = JavaFake(modern({"version": {"name": "1.21", "protocol": 767}, "description": {"text": "hi"},
                            "players": {"max": 20, "online": 0}}))
    server = await asyncio.start_server(fake._serve, "127.0.0.1", port, reuse_port=True)
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()


def three_services(s: Servers, status_port: int) -> tuple[Config, dict[str, int]]:
    ports = {"java": free_port(), "bedrock": free_port(socket.SOCK_DGRAM), "site": free_port()}
    config = s.config([
        {"name": "java", "type": "mcje", "local": f"127.0.0.1:{ports['java']}"},
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{ports['bedrock']}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
        {"name": "site", "type": "web", "local": f"127.0.0.1:{ports['site']}", "remote": f"127.0.0.1:{free_port()}"},
    ], status=f"127.0.0.1:{status_port}")
    return config, ports


@pytest.mark.asyncio
async def test_three_services_map_and_a_tcp_remap_changes_only_the_tcp_ones(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status_port = free_port()
    config, ports = three_services(servers, status_port)
    tcp, udp = servers.tcp_rule, servers.udp_rule
    async with java_server(ports["java"]), running(config):
        first = await poll(status_port, lambda s: all(e["state"] == "mapped" for e in s.values()))
        assert list(first) == ["java", "bedrock", "site"]
        assert first["java"]["mapping"] == tcp.outer_of(ports["java"]) and first["java"]["mode"] == "shared"
        assert first["bedrock"]["mapping"] == udp.outer_of(ports["bedrock"]) and first["bedrock"]["proto"] == "udp"
        assert first["site"]["mapping"] == tcp.outer_of(ports["site"]) and first["site"]["mode"] == "forward"
        # every log line of a service names it, after the level
        for name in ("java", "bedrock", "site"):
            assert any(r.getMessage().startswith(f"[{name}] 获取到映射地址") for r in caplog.records), name

        tcp.shift = 2000  # the NAT remaps TCP only: the keepalives break, UDP is untouched
        servers.http[0].drop_connections()
        second = await poll(status_port, lambda s: s["java"]["remaps"] == 1 and s["site"]["remaps"] == 1
                            and s["java"]["state"] == s["site"]["state"] == "mapped")
        assert second["java"]["mapping"] == tcp.outer_of(ports["java"])
        assert second["site"]["mapping"] == tcp.outer_of(ports["site"])
        assert second["bedrock"]["mapping"] == first["bedrock"]["mapping"] and second["bedrock"]["remaps"] == 0
        assert second["bedrock"]["since"] == first["bedrock"]["since"]


@pytest.mark.asyncio
async def test_a_service_whose_port_cannot_be_shared_fails_alone(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    status_port = free_port()
    held_port = free_port()
    # A plain listener (no SO_REUSEPORT) answers on the port: up, but it cannot be shared.
    holder = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", held_port)
    config = servers.config([
        {"name": "held", "type": "tcp", "local": f"127.0.0.1:{held_port}"},
        {"name": "raw", "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}"},
        {"name": "game", "type": "udp", "local": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
    ], status=f"127.0.0.1:{status_port}")
    try:
        async with running(config) as (supervisor, task):
            seen = await poll(status_port, lambda s: s["held"]["state"] == "failed"
                              and s["raw"]["state"] == s["game"]["state"] == "mapped")
            assert str(held_port) in seen["held"]["error"] and seen["held"]["mapping"] is None
            errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1 and errors[0].startswith("[held] ") and "其余服务继续运行" in errors[0]
            # the others keep going: a remap is still followed
            servers.tcp_rule.shift = 3000
            servers.http[0].drop_connections()
            await poll(status_port, lambda s: s["raw"]["remaps"] == 1 and s["raw"]["state"] == "mapped")
            assert not task.done()
            assert supervisor.services[0].forwarder is None
    finally:
        holder.close()
        await holder.wait_closed()


@pytest.mark.asyncio
async def test_the_process_ends_with_1_when_no_service_is_left(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    taken = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    try:
        for sock in taken:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        ports = [int(sock.getsockname()[1]) for sock in taken]
        # forward mode: our listener cannot bind a port someone else holds
        config = servers.config([
            {"name": f"s{i}", "type": "tcp", "local": f"127.0.0.1:{port}", "remote": f"127.0.0.1:{free_port()}"}
            for i, port in enumerate(ports)
        ])
        async with running(config) as (_supervisor, task):
            assert await asyncio.wait_for(task, 5) == 1
    finally:
        for sock in taken:
            sock.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert [e.split(" ", 1)[0] for e in errors[:2]] == ["[s0]", "[s1]"]
    assert errors[-1] == "所有服务都已停止，程序退出"


@pytest.mark.asyncio
async def test_server_health_is_shared_by_the_services(servers: Servers) -> None:
    dead = await CountingServer().start()
    shared_port = free_port()
    keys = servers.keys()
    config = servers.config([
        {"name": "first", "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}"},
        # shared-port mode: it starts only once its server holds the port, after "first" is mapped
        {"name": "second", "type": "tcp", "local": f"127.0.0.1:{shared_port}"},
    ], stun_tcp=[dead.address, *keys["stun_tcp"]])
    try:
        async with running(config) as (supervisor, _task):
            first, second = supervisor.services
            await _until(lambda: first.keeper is not None and first.keeper.current is not None)
            assert dead.connections == 1
            holder = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", shared_port, reuse_port=True)
            try:
                await _until(lambda: second.keeper is not None and second.keeper.current is not None)
            finally:
                holder.close()
                await holder.wait_closed()
            # the server that failed for "first" went last for "second" too
            assert dead.connections == 1
    finally:
        await dead.close()


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def recording_pool() -> tuple[Zone, list[RecordingProvider], AccountPool]:
    zone = Zone()
    providers: list[RecordingProvider] = []

    def factory(settings: DnsSettings) -> Provider:
        providers.append(RecordingProvider(settings, zone))
        return providers[-1]

    return zone, providers, AccountPool(factory)


TCP_SRV = "_tcp.mc.example.com"
UDP_SRV = "_minecraft._udp.mc.example.com"
DNS = {"dns": "webhook", "id": "http://127.0.0.1:9/hook", "domain": "example.com", "sub_domain": "mc"}


@pytest.mark.asyncio
async def test_services_on_one_name_share_the_address_record_with_one_write(servers: Servers) -> None:
    zone, providers, pool = recording_pool()
    ports = [free_port(), free_port()]
    config = servers.config([
        {"name": "raw", "type": "tcp", "local": f"127.0.0.1:{ports[0]}", "remote": f"127.0.0.1:{free_port()}"},
        {"name": "site", "type": "web", "local": f"127.0.0.1:{ports[1]}", "remote": f"127.0.0.1:{free_port()}"},
    ], **DNS)
    async with running(config, accounts=pool):
        await _until(lambda: all(srv_port(zone, n) is not None for n in (TCP_SRV, "_web._tcp.mc.example.com")))
    assert address_of(zone, "mc.example.com") == "198.51.100.7"
    assert [r.name for r in zone.writes if r.type == "A"] == ["mc.example.com"]  # one write
    assert sum(1 for sync in zone.syncs for r in sync if r.type == "A") == 1  # and asked once
    # SRV records stay per service
    assert srv_port(zone, "_tcp.mc.example.com") == int(servers.tcp_rule.outer_of(ports[0]).rsplit(":", 1)[1])
    assert srv_port(zone, "_web._tcp.mc.example.com") == int(servers.tcp_rule.outer_of(ports[1]).rsplit(":", 1)[1])
    # one provider for the account and name, closed once every service is done with it
    assert len(providers) == 1 and providers[0].closed


@pytest.mark.asyncio
async def test_different_addresses_on_one_name_publish_the_first_service(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    zone, _providers, pool = recording_pool()
    servers.udp_rule.ip = ipaddress.IPv4Address("198.51.100.99")  # UDP leaves from another public IP
    port = free_port(socket.SOCK_DGRAM)
    config = servers.config([
        {"name": "raw", "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}"},
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{port}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
    ], **DNS)
    async with running(config, accounts=pool):
        await _until(lambda: all(srv_port(zone, n) is not None for n in (TCP_SRV, UDP_SRV))
                     and address_of(zone, "mc.example.com") == "198.51.100.7")
        await asyncio.sleep(0.3)  # a few keepalives: nothing moves the record back
        assert address_of(zone, "mc.example.com") == "198.51.100.7"
    assert srv_port(zone, UDP_SRV) == int(servers.udp_rule.outer_of(port).rsplit(":", 1)[1])
    conflicts = [r.getMessage() for r in caplog.records
                 if r.levelno == logging.WARNING and "198.51.100.99" in r.getMessage()]
    assert len(conflicts) == 1
    assert "mc.example.com：服务 bedrock 的公网地址 198.51.100.99 与服务 raw 的 198.51.100.7 不同" in conflicts[0]
