"""The in-memory status registry: the app tells it what happens, the server reads snapshots.

It lives on the event loop's thread (every update comes from a task of the app)
and holds plain values, so a snapshot is cheap and consistent. Nothing here does
I/O or knows about HTTP.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from nat1_traversal.status.model import (
    DnsStatus,
    MappingEvent,
    Mode,
    PortmapStatus,
    ServiceStatus,
    ServiceView,
    Snapshot,
    State,
)

HISTORY_WINDOW = timedelta(hours=24)
# A flapping line could remap every few seconds; the timeline needs no more than this.
HISTORY_CAP = 500


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass(slots=True)
class _Entry:
    status: ServiceStatus
    history: deque[MappingEvent] = field(default_factory=lambda: deque(maxlen=HISTORY_CAP))
    publish_failures: int = 0
    mapped_once: bool = False


class UnknownService(KeyError):
    """An update named a service that was never added (a wiring mistake)."""


class StatusRegistry:
    """What every service is doing now, plus its last 24 h of mappings."""

    def __init__(self, version: str, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.version = version
        self._clock = clock
        self.started = clock()
        self._entries: dict[str, _Entry] = {}

    # --- set-up -------------------------------------------------------------
    def add_service(
        self,
        name: str,
        *,
        type: str,
        proto: str,
        mode: Mode,
        local: str,
        remote: str | None,
        dns_name: str | None,
    ) -> None:
        """Register a service in the order it should be listed; ``dns_name`` None = no_dns."""
        if name in self._entries:
            raise ValueError(f"service {name!r} registered twice")
        if proto not in ("tcp", "udp"):
            raise ValueError(f"proto must be tcp or udp, not {proto!r}")
        dns = DnsStatus(name=dns_name, state="pending" if dns_name else "off")
        status = ServiceStatus(
            name=name, type=type, proto="tcp" if proto == "tcp" else "udp", mode=mode,
            local=local, remote=remote, dns=dns,
        )
        self._entries[name] = _Entry(status)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    # --- updates ------------------------------------------------------------
    def set_state(self, name: str, state: State, error: str | None = None) -> None:
        """``mapped`` clears the error; the other states keep the last mapping on show."""
        entry = self._entry(name)
        entry.status = replace(entry.status, state=state, error=None if state == "mapped" else error)

    def set_mapping(self, name: str, mapping: str) -> None:
        """A mapping the keeper holds now. A different one than before counts as a remap."""
        entry = self._entry(name)
        now = self._clock()
        old = entry.status
        changed = old.mapping != mapping
        remaps = old.remaps + (1 if changed and entry.mapped_once else 0)
        entry.mapped_once = True
        if changed:
            entry.history.append(MappingEvent(now, mapping))
            # A new mapping has not been checked yet, and DNS must publish it again.
            dns = old.dns if old.dns.state == "off" else replace(old.dns, state="pending", error=None)
            entry.status = replace(old, mapping=mapping, since=now, remaps=remaps, reachable=None, dns=dns)
        self.set_state(name, "mapped")

    def set_reachable(self, name: str, reachable: bool | None) -> None:
        entry = self._entry(name)
        entry.status = replace(entry.status, reachable=reachable)

    def set_portmap(self, name: str, portmap: PortmapStatus | None) -> None:
        entry = self._entry(name)
        entry.status = replace(entry.status, portmap=portmap)

    def dns_published(self, name: str) -> None:
        entry = self._entry(name)
        dns = replace(entry.status.dns, state="ok", last_ok=self._clock(), error=None)
        entry.status = replace(entry.status, dns=dns)

    def dns_failed(self, name: str, error: str) -> None:
        """One failed publish attempt; ``error`` must already be free of secrets."""
        entry = self._entry(name)
        entry.publish_failures += 1
        entry.status = replace(entry.status, dns=replace(entry.status.dns, state="failing", error=error))

    # --- reading ------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        now = self._clock()
        horizon = now - HISTORY_WINDOW
        views = tuple(
            ServiceView(entry.status, _recent(entry.history, horizon), entry.publish_failures)
            for entry in self._entries.values()
        )
        return Snapshot(version=self.version, started=self.started, now=now, services=views)

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownService(name) from None


def _recent(history: deque[MappingEvent], horizon: datetime) -> tuple[MappingEvent, ...]:
    """The events of the window, plus the one that was current when the window opened."""
    events = list(history)
    first = 0
    for index, event in enumerate(events):
        if event.at <= horizon:
            first = index
    return tuple(events[first:])
