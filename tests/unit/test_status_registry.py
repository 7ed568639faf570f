"""The status registry and the §12 JSON shape (pure: a fake clock, no sockets)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from nat1_traversal.status.model import iso_utc
from nat1_traversal.status.registry import HISTORY_CAP, StatusRegistry, UnknownService

T0 = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make(clock: Clock, dns_name: str | None = "mc.example.com") -> StatusRegistry:
    registry = StatusRegistry("9.9.9", clock=clock)
    registry.add_service("java", type="mcje", proto="tcp", mode="shared", local="0.0.0.0:25565",
                         remote=None, dns_name=dns_name)
    return registry


def test_json_has_exactly_the_spec_shape() -> None:
    clock = Clock()
    registry = make(clock)
    data = registry.snapshot().to_json()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"version", "started", "services"}
    assert data["version"] == "9.9.9"
    assert data["started"] == "2026-12-01T08:00:00Z"
    assert data["services"] == [{
        "name": "java", "type": "mcje", "proto": "tcp", "mode": "shared", "local": "0.0.0.0:25565",
        "remote": None, "state": "starting", "mapping": None, "since": None, "remaps": 0,
        "reachable": None, "dns": {"name": "mc.example.com", "state": "pending", "last_ok": None, "error": None},
        "error": None,
        "portmap": None,  # SPEC §14 extension: the home router's forward, null with "upnp": false
    }]


def test_no_dns_is_off_and_stays_off() -> None:
    clock = Clock()
    registry = make(clock, dns_name=None)
    registry.set_mapping("java", "203.0.113.7:40123")
    dns = registry.snapshot().services[0].status.dns
    assert (dns.name, dns.state) == (None, "off")


def test_remaps_count_changes_after_the_first_mapping() -> None:
    clock = Clock()
    registry = make(clock)
    registry.set_mapping("java", "203.0.113.7:40123")
    status = registry.snapshot().services[0].status
    assert (status.state, status.mapping, status.remaps, iso_utc(status.since)) == (
        "mapped", "203.0.113.7:40123", 0, "2026-12-01T08:00:00Z")
    clock.advance(minutes=5)
    registry.set_mapping("java", "203.0.113.7:40123")  # unchanged: not a remap, since kept
    status = registry.snapshot().services[0].status
    assert (status.remaps, status.since) == (0, T0)
    registry.set_mapping("java", "203.0.113.7:40999")
    registry.set_mapping("java", "203.0.113.8:40999")
    status = registry.snapshot().services[0].status
    assert status.remaps == 2
    assert status.since == T0 + timedelta(minutes=5)


def test_retrying_keeps_the_last_mapping_and_a_same_mapping_back_is_no_remap() -> None:
    clock = Clock()
    registry = make(clock)
    registry.set_mapping("java", "203.0.113.7:40123")
    registry.set_state("java", "retrying", "STUN timeout")
    status = registry.snapshot().services[0].status
    assert (status.state, status.mapping, status.error) == ("retrying", "203.0.113.7:40123", "STUN timeout")
    registry.set_mapping("java", "203.0.113.7:40123")
    status = registry.snapshot().services[0].status
    assert (status.state, status.remaps, status.error) == ("mapped", 0, None)


def test_dns_results_and_publish_failures() -> None:
    clock = Clock()
    registry = make(clock)
    registry.set_mapping("java", "203.0.113.7:40123")
    registry.dns_failed("java", "rate limited")
    registry.dns_failed("java", "rate limited")
    view = registry.snapshot().services[0]
    assert (view.status.dns.state, view.status.dns.error, view.publish_failures) == ("failing", "rate limited", 2)
    clock.advance(seconds=30)
    registry.dns_published("java")
    view = registry.snapshot().services[0]
    assert view.status.dns.to_json() == {"name": "mc.example.com", "state": "ok",
                                         "last_ok": "2026-12-01T08:00:30Z", "error": None}
    assert view.publish_failures == 2  # a counter: never goes down
    registry.set_mapping("java", "203.0.113.7:40124")  # a new mapping must be published again
    dns = registry.snapshot().services[0].status.dns
    assert (dns.state, iso_utc(dns.last_ok)) == ("pending", "2026-12-01T08:00:30Z")


def test_reachable_is_reset_by_a_new_mapping_and_never_changes_state() -> None:
    clock = Clock()
    registry = make(clock)
    registry.set_mapping("java", "203.0.113.7:40123")
    registry.set_reachable("java", False)
    status = registry.snapshot().services[0].status
    assert (status.reachable, status.state) == (False, "mapped")
    registry.set_mapping("java", "203.0.113.7:40124")
    assert registry.snapshot().services[0].status.reachable is None


def test_history_keeps_24_hours_plus_the_mapping_current_at_the_window_start() -> None:
    clock = Clock()
    registry = make(clock)
    for port in range(40000, 40005):
        registry.set_mapping("java", f"203.0.113.7:{port}")
        clock.advance(hours=10)
    # now = T0 + 50 h; the window starts at T0 + 26 h: events at 30 h and 40 h are inside,
    # the one at 20 h was current at the window start.
    history = registry.snapshot().services[0].history
    assert [event.mapping for event in history] == ["203.0.113.7:40002", "203.0.113.7:40003", "203.0.113.7:40004"]


def test_history_is_bounded() -> None:
    clock = Clock()
    registry = make(clock)
    for index in range(HISTORY_CAP + 50):
        registry.set_mapping("java", f"203.0.113.7:{10000 + index}")
        clock.advance(seconds=1)
    view = registry.snapshot().services[0]
    assert len(view.history) == HISTORY_CAP
    assert view.status.remaps == HISTORY_CAP + 49


def test_failed_service_keeps_its_error_and_services_keep_their_order() -> None:
    clock = Clock()
    registry = make(clock)
    registry.add_service("bedrock", type="mcbe", proto="udp", mode="forward", local="0.0.0.0:19132",
                         remote="127.0.0.1:19133", dns_name="mc.example.com")
    registry.set_state("bedrock", "failed", "port held")
    data = registry.snapshot().to_json()
    services = data["services"]
    assert isinstance(services, list)
    assert [s["name"] for s in services if isinstance(s, dict)] == ["java", "bedrock"]
    assert registry.snapshot().services[1].status.error == "port held"


def test_wiring_mistakes_are_loud() -> None:
    registry = make(Clock())
    with pytest.raises(UnknownService):
        registry.set_state("nope", "mapped")
    with pytest.raises(ValueError, match="twice"):
        registry.add_service("java", type="mcje", proto="tcp", mode="shared", local="0.0.0.0:1",
                             remote=None, dns_name=None)
