"""The home router forward of a service is described by the service's name (SPEC §11, issue 13:
``nat1_traversal <name>``, how a crashed run's stale forward is found again), not ``<type>-<port>``."""

from __future__ import annotations

from typing import Any

from nat1_traversal.portmap.service import request_for
from nat1_traversal.service import Service
from nat1_traversal.service_config import parse_file

SERVICES: list[dict[str, Any]] = [
    {"name": "java", "type": "mcje", "local": ":25565", "remote": "127.0.0.1:25566"},
    {"name": "bedrock", "type": "mcbe", "local": ":19132", "remote": "127.0.0.1:19133"},
    {"type": "web", "local": ":8443", "remote": "127.0.0.1:443"},  # no name: the default one
]


def descriptions(data: dict[str, Any]) -> list[str]:
    config, _warnings = parse_file({"dns": "no_dns", "status": False, "reach_check": [], **data})
    found = []
    for service_config in config.all_services:
        forwarder = Service(service_config).portmap.forwarder  # built only: nothing is sent
        assert forwarder is not None
        found.append(forwarder.request.description)
    return found


def test_several_services_name_their_forwards_by_service_name() -> None:
    assert descriptions({"upnp": "auto", "services": SERVICES}) == [
        "nat1_traversal java", "nat1_traversal bedrock", "nat1_traversal web-8443"]


def test_a_file_without_services_keeps_the_default_name() -> None:
    assert descriptions({"upnp": True, "type": "mcje", "local": ":25565"}) == ["nat1_traversal mcje-25565"]
    assert descriptions({"upnp": True, "name": "survival", "type": "mcje", "local": ":25565"}) == [
        "nat1_traversal survival"]


def test_upnp_false_asks_for_no_forward() -> None:
    config, _warnings = parse_file({"dns": "no_dns", "upnp": False, "services": SERVICES})
    assert all(request_for(c, c.local, c.proto, c.service_name) is None
               for c in config.all_services if c.local is not None)
    assert all(Service(c).portmap.forwarder is None for c in config.all_services)
