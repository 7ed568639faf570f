"""The values behind the status API (SPEC section 12): frozen, and turned into JSON here only.

``ServiceStatus`` and ``DnsStatus`` are exactly the §12 ``services[]`` entries;
``ServiceView`` adds what the page and ``/metrics`` show besides (the 24 h mapping
history, the number of failed publishes), which the JSON API does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

State = Literal["starting", "mapped", "retrying", "failed"]
DnsState = Literal["ok", "pending", "failing", "off"]
Mode = Literal["shared", "forward"]

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second, ``2026-12-01T10:27:32Z``; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DnsStatus:
    name: str | None = None
    state: DnsState = "off"
    last_ok: datetime | None = None
    error: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {"name": self.name, "state": self.state, "last_ok": iso_utc(self.last_ok), "error": self.error}


@dataclass(frozen=True, slots=True)
class PortmapStatus:
    """The home router's forward (SPEC §14, an extension of §12): who holds it, when it renews."""

    method: str | None = None  # "PCP" | "NAT-PMP" | "UPnP"; None = not held (see error)
    gateway: str | None = None
    renews: datetime | None = None  # None: permanent, or not held
    error: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {"method": self.method, "gateway": self.gateway, "renews": iso_utc(self.renews), "error": self.error}


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One ``services[]`` entry of ``GET /api/status``."""

    name: str
    type: str
    proto: Literal["tcp", "udp"]
    mode: Mode
    local: str
    remote: str | None
    state: State = "starting"
    mapping: str | None = None
    since: datetime | None = None
    remaps: int = 0
    reachable: bool | None = None
    dns: DnsStatus = DnsStatus()
    error: str | None = None
    portmap: PortmapStatus | None = None  # None: "upnp": false

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "type": self.type,
            "proto": self.proto,
            "mode": self.mode,
            "local": self.local,
            "remote": self.remote,
            "state": self.state,
            "mapping": self.mapping,
            "since": iso_utc(self.since),
            "remaps": self.remaps,
            "reachable": self.reachable,
            "dns": self.dns.to_json(),
            "error": self.error,
            "portmap": self.portmap.to_json() if self.portmap is not None else None,
        }


@dataclass(frozen=True, slots=True)
class MappingEvent:
    """A mapping that began at ``at`` (the timeline draws one segment per event)."""

    at: datetime
    mapping: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    status: ServiceStatus
    history: tuple[MappingEvent, ...] = ()
    publish_failures: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the status server shows, taken at ``now``."""

    version: str
    started: datetime
    now: datetime
    services: tuple[ServiceView, ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "version": self.version,
            "started": iso_utc(self.started),
            "services": [view.status.to_json() for view in self.services],
        }
