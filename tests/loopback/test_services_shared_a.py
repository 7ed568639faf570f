"""SPEC section 11, the shared A record when its service fails for good: the record moves to the next
live service on that name (when its address differs) instead of keeping a dead service's address.

Loopback, in the style of test_services.py: the supervisor with two services on one name (UDP
and TCP, leaving from different public IPs), the fake STUN/HTTP servers, a recording DNS zone.
The first service (the A record's owner) then meets a NAT that maps every request anew: it fails
for good (SPEC: the NAT cannot work for it) while the second one goes on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable

import pytest

from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import Provider
from nat1_traversal.model import Endpoint
from nat1_traversal.publish_shared import AccountPool
from nat1_traversal.supervisor import Supervisor
from tests.support.keeper_fakes import Addr
from tests.support.keeper_kit import FAST
from tests.support.services_kit import PortRule, RecordingProvider, Servers, Zone, address_of, servers, srv_port
from tests.support.util import free_port

__all__ = ["servers"]  # the fixture
NAME = "mc.example.com"
UDP_IP = ipaddress.IPv4Address("198.51.100.99")
TCP_IP = "198.51.100.7"
DNS = {"dns": "webhook", "id": "http://127.0.0.1:9/hook", "domain": "example.com", "sub_domain": "mc"}


class FlappingRule(PortRule):
    """Full cone until ``flapping``; then a new public port for every request (a mapping per request)."""

    def __init__(self, ip: ipaddress.IPv4Address) -> None:
        super().__init__(ip)
        self.flapping = False
        self._count = 0

    def mapped(self, source: Addr, server_port: int, server_ip: str = "127.0.0.1") -> Endpoint:
        if not self.flapping:
            return super().mapped(source, server_port, server_ip)
        self._count += 1
        return Endpoint(self.ip, 20000 + self._count)


async def until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_when_the_a_records_service_fails_for_good_the_next_live_one_takes_the_record(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    zone = Zone()

    def factory(settings: DnsSettings) -> Provider:
        return RecordingProvider(settings, zone)

    rule = FlappingRule(UDP_IP)
    servers.udp_rule = rule
    for stun in servers.stun_udp:
        stun.rule = rule
    config = servers.config([
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
        {"name": "raw", "type": "tcp", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}"},
    ], **DNS)
    supervisor = Supervisor(config, timing=FAST, accounts=AccountPool(factory))
    supervisor.check()
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))

    def states() -> dict[str, str]:
        return {view.status.name: view.status.state for view in supervisor.status.registry.snapshot().services}

    try:
        await until(lambda: srv_port(zone, "_tcp.mc.example.com") is not None
                    and srv_port(zone, "_minecraft._udp.mc.example.com") is not None)
        assert address_of(zone, NAME) == str(UDP_IP)  # the first service's address
        rule.flapping = True
        await until(lambda: states()["bedrock"] == "failed")
        assert not task.done() and states()["raw"] == "mapped"
        # the record follows the live service on that name
        await until(lambda: address_of(zone, NAME) == TCP_IP, timeout=5)
        writes = [r.data for r in zone.writes if r.type == "A"]
        await asyncio.sleep(0.3)  # a few keepalives: the record stays, nothing writes it again
        assert address_of(zone, NAME) == TCP_IP
        # (raw may have written it first, before bedrock, first in the list, had a mapping)
        assert writes[-2:] == [str(UDP_IP), TCP_IP] and len(writes) <= 3, zone.writes
        assert [r.data for r in zone.writes if r.type == "A"] == writes
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 3) == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("[bedrock] 服务 bedrock 已停止：") and "{" not in errors[0]
    moved = [r.getMessage() for r in caplog.records if "A 记录改为" in r.getMessage()]
    assert moved == [f"[bedrock] {NAME}：服务 bedrock 已停止，A 记录改为发布服务 raw 的地址 {TCP_IP}"], moved
    # the new owner's publish is logged as its own, with its own prefix
    published = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"[raw] DDNS更新成功 {NAME}")]
    assert len(published) == 2, published
