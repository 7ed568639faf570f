"""The app's reporter: names, modes, and no secret ever reaching a status output."""

from __future__ import annotations

import ipaddress
import json

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.log import register_secrets
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.status.page import render_page
from nat1_traversal.status.reporter import StatusSurface, default_service_name

SECRET = "reporter-secret-7f3a9c"
LO = ipaddress.IPv4Address("127.0.0.1")


def test_default_name_mode_and_dns_name() -> None:
    shared = Config(type="mcje", local=Endpoint(ipaddress.IPv4Address("0.0.0.0"), 25565),
                    dns=DnsSettings(kind="cloudflare", domain="example.com", sub_domain="mc"))
    forward = Config(type="mcbe", local=Endpoint(ipaddress.IPv4Address("0.0.0.0"), 19132),
                     remote=Endpoint(LO, 19133))
    assert default_service_name(shared) == "mcje-25565"
    surface = StatusSurface(shared)
    surface.add_service(shared)
    surface.add_service(forward)
    first, second = (view.status for view in surface.registry.snapshot().services)
    assert (first.name, first.mode, first.local, first.remote, first.dns.name, first.dns.state) == (
        "mcje-25565", "shared", "0.0.0.0:25565", None, "mc.example.com", "pending")
    assert (second.name, second.mode, second.proto, second.remote, second.dns.name, second.dns.state) == (
        "mcbe-19132", "forward", "udp", "127.0.0.1:19133", None, "off")


def test_errors_are_redacted_before_they_are_stored() -> None:
    register_secrets([Secret(SECRET)])
    config = Config(type="tcp", local=Endpoint(LO, 5000), dns=DnsSettings(kind="webhook", id="http://x/",
                                                                          domain="example.com", sub_domain="a"))
    surface = StatusSurface(config)
    reporter = surface.add_service(config)
    reporter.mapping(Mapping("tcp", Endpoint(LO, 5000), Endpoint(ipaddress.IPv4Address("203.0.113.1"), 4000)))
    reporter.publish_result(f"HTTP 401 for token {SECRET}")
    reporter.state("retrying", f"Authorization: Bearer {SECRET}")
    snapshot = surface.registry.snapshot()
    outputs = json.dumps(snapshot.to_json(), ensure_ascii=False) + render_page(snapshot)
    assert SECRET not in outputs
    status = snapshot.services[0].status
    assert status.dns.error is not None and "******" in status.dns.error
    assert status.error is not None and "******" in status.error
