"""A service's own next mapping still sends its address record (SPEC §5 and §11).

Found by the chaos soak (issue 15): with a ``services`` list, the shared account remembered
every address record it had made true and left it out of every later publish, the same
service's own included. The webhook then got one POST per mapping instead of SPEC §5's two
(A, then SRV), and a provider that compares before writing was never asked about the A
record again, so an A record the server lost (a zone restored without its journal, a record
deleted by hand) stayed missing until the public IP changed. Only another service's wish
for the same address is left out (one write for a shared record, as before).
"""

from __future__ import annotations

import pytest

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider, Record, SrvData
from nat1_traversal.publish_shared import AccountPool
from nat1_traversal.service_config import parse_file
from tests.support.services_kit import RecordingProvider, Zone

FILE = {
    "dns": "webhook", "id": "http://127.0.0.1:9/hook", "domain": "example.com", "sub_domain": "mc",
    "status": False, "upnp": False, "reach_check": [], "stun_tcp": ["127.0.0.1:3478"],
    "stun_udp": ["127.0.0.1:3478"], "keepalive_tcp": ["127.0.0.1:80"],
    "services": [
        {"name": "java", "type": "mcje", "local": ":25565", "remote": "127.0.0.1:25566"},
        {"name": "bedrock", "type": "mcbe", "local": ":19132", "remote": "127.0.0.1:19133"},
    ],
}  # fmt: skip
ADDRESS = Record("A", "mc.example.com", "203.0.113.1")


def srv(service: str, port: int) -> Record:
    return Record("SRV", f"_minecraft._{service}.mc.example.com", SrvData(10, 0, port, "mc.example.com"))


def services() -> tuple[Zone, AccountPool, tuple[Config, ...]]:
    zone = Zone()

    def factory(settings: DnsSettings) -> Provider:
        return RecordingProvider(settings, zone)

    config, _warnings = parse_file(FILE)
    return zone, AccountPool(factory), config.all_services


async def publish(member: Provider, records: list[Record]) -> None:
    """What the publisher does: sync, then read back when something was written."""
    if await member.sync(records):
        assert await member.confirm(records)


@pytest.mark.asyncio
async def test_the_next_mapping_of_the_same_service_sends_the_address_again() -> None:
    zone, pool, (_java, bedrock) = services()
    member = pool.member(bedrock, 1)
    assert member is not None
    await publish(member, [ADDRESS, srv("udp", 61000)])
    await publish(member, [ADDRESS, srv("udp", 62000)])  # a remap: same IP, another port
    assert [[r.type for r in sync] for sync in zone.syncs] == [["A", "SRV"], ["A", "SRV"]]


@pytest.mark.asyncio
async def test_another_services_publish_of_the_same_address_still_writes_nothing_for_it() -> None:
    zone, pool, (java, bedrock) = services()
    first, second = pool.member(java, 0), pool.member(bedrock, 1)
    assert first is not None and second is not None
    await publish(first, [ADDRESS, srv("tcp", 61000)])
    await publish(second, [ADDRESS, srv("udp", 62000)])
    assert [[r.type for r in sync] for sync in zone.syncs] == [["A", "SRV"], ["SRV"]]
