"""The common provider interface and the pure record planning shared by all providers.

A provider is asked to make a small set of records (one address record and one
SRV record) true.  ``ZoneProvider`` holds the diff logic every REST-style
provider shares — find the zone, list the records of one name *and* type, keep
a record that already matches, otherwise update the first one in place or
create it, then delete every other record of that name and type, so exactly one
is left — so a provider file only translates five calls into its API.
"""

from __future__ import annotations

import ipaddress
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Generic, Literal, TypeVar

from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.config import DnsSettings
from nat1_traversal.errors import ProviderAuthError, ProviderError, RateLimited, RecordExists, ZoneNotFound
from nat1_traversal.model import Mapping

log = logging.getLogger(__name__)

RecordType = Literal["A", "AAAA", "SRV"]
REQUEST_TIMEOUT = 15.0
# SPEC §5: every published SRV record uses priority 10 and weight 0.
SRV_PRIORITY = 10
SRV_WEIGHT = 0

T = TypeVar("T")
Z = TypeVar("Z")


@dataclass(frozen=True, slots=True)
class SrvData:
    priority: int
    weight: int
    port: int
    target: str  # absolute name without the trailing dot

    def text(self) -> str:
        """Zone-file form ``priority weight port target.``."""
        return f"{self.priority} {self.weight} {self.port} {self.target}."

    @classmethod
    def parse(cls, text: str) -> SrvData | None:
        """Parse ``priority weight port target`` (trailing dot optional); None when malformed."""
        parts = text.split()
        if len(parts) != 4:
            return None
        try:
            priority, weight, port = (int(p) for p in parts[:3])
        except ValueError:
            return None
        return cls(priority, weight, port, parts[3].rstrip("."))


@dataclass(frozen=True, slots=True)
class Record:
    """A wanted (or found) record; ``name`` is absolute without the trailing dot."""

    type: RecordType
    name: str
    data: str | SrvData  # address text for A/AAAA
    ttl: int | None = None  # None: the provider's default

    def same_content(self, other: Record) -> bool:
        """Same name, type and data (names compared case-insensitively), TTL ignored."""
        if self.type != other.type or self.name.lower() != other.name.lower():
            return False
        if isinstance(self.data, SrvData) and isinstance(other.data, SrvData):
            a, b = self.data, other.data
            return (a.priority, a.weight, a.port, a.target.lower()) == (
                b.priority,
                b.weight,
                b.port,
                b.target.lower(),
            )
        if isinstance(self.data, str) and isinstance(other.data, str):
            try:
                return ipaddress.ip_address(self.data) == ipaddress.ip_address(other.data)
            except ValueError:
                return self.data == other.data
        return False

    def satisfied_by(self, found: Record) -> bool:
        """True when ``found`` needs no write to become this record."""
        return self.same_content(found) and (self.ttl is None or self.ttl == found.ttl)

    def describe(self) -> str:
        data = self.data.text() if isinstance(self.data, SrvData) else self.data
        return f"{self.name} {self.type} {data}"


@dataclass(frozen=True, slots=True)
class RemoteRecord(Generic[T]):
    """A record as the provider holds it, with the provider's handle (id) for it."""

    handle: T
    record: Record


def plan_records(settings: DnsSettings, srv_prefix: str, mapping: Mapping) -> tuple[Record, Record]:
    """SPEC §5: ``A fqdn -> ip`` and ``SRV <prefix><fqdn> -> 10 0 port fqdn.``."""
    fqdn = settings.fqdn
    address_type: RecordType = "AAAA" if mapping.outer.ip.version == 6 else "A"
    address = Record(address_type, fqdn, str(mapping.outer.ip), settings.ttl)
    srv = Record(
        "SRV",
        srv_prefix + fqdn,
        SrvData(SRV_PRIORITY, SRV_WEIGHT, mapping.outer.port, fqdn),
        settings.ttl,
    )
    return address, srv


def relative_name(name: str, zone: str) -> str:
    """``name`` relative to ``zone`` (label-aware); ``"@"`` for the apex."""
    name_l, zone_l = name.lower().rstrip("."), zone.lower().rstrip(".")
    if name_l == zone_l:
        return "@"
    if name_l.endswith("." + zone_l):
        return name[: len(name_l) - len(zone_l) - 1]
    return name


class Action(Enum):
    KEEP = "keep"
    UPDATE = "update"
    CREATE = "create"


def same_owner(wanted: Record, found: Record) -> bool:
    """Same name (case-insensitive) and type: the records of one owned RRset."""
    return found.type == wanted.type and found.name.lower() == wanted.name.lower()


def decide(wanted: Record, found: Sequence[RemoteRecord[T]]) -> tuple[Action, RemoteRecord[T] | None]:
    """Keep when any record of the same name and type already matches; else update the first; else create."""
    for remote in found:
        if wanted.satisfied_by(remote.record):
            return Action.KEEP, remote
    same = [r for r in found if same_owner(wanted, r.record)]
    if same:
        return Action.UPDATE, same[0]
    return Action.CREATE, None


class Provider(ABC):
    """One DNS provider. Instances are created by ``nat1_traversal.dns.create_provider``."""

    label: ClassVar[str] = "DNS"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout

    @abstractmethod
    async def sync(self, records: Sequence[Record]) -> int:
        """Make ``records`` true at the provider, writing only what differs; returns the writes made."""

    async def confirm(self, records: Sequence[Record]) -> bool:
        """Read back and check ``records`` (default: nothing to check)."""
        return True

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release sessions/clients."""

    async def blocking(self, func: Callable[[], T]) -> T:
        """Run a blocking SDK/requests call off the event loop (abandoned on cancel)."""
        return await in_daemon_thread(func, name=f"nat1-{self.label}")


class ZoneProvider(Provider, Generic[Z, T]):
    """Template for REST providers: zone lookup (cached) + per name/type list, update, create."""

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._zone: Z | None = None

    @property
    def zone_name(self) -> str:
        return (self.settings.domain or "").strip(".")

    async def zone(self) -> Z:
        if self._zone is None:
            self._zone = await self.find_zone()
        return self._zone

    @abstractmethod
    async def find_zone(self) -> Z:
        """Look the zone up by name; raise ZoneNotFound when it is not in the account."""

    @abstractmethod
    async def list_records(self, zone: Z, wanted: Record) -> list[RemoteRecord[T]]:
        """Every record of ``wanted.name`` and ``wanted.type`` (all pages)."""

    @abstractmethod
    async def create_record(self, zone: Z, wanted: Record) -> None: ...

    @abstractmethod
    async def update_record(self, zone: Z, current: RemoteRecord[T], wanted: Record) -> None: ...

    @abstractmethod
    async def delete_record(self, zone: Z, stale: RemoteRecord[T]) -> None: ...

    async def list_wide(self, zone: Z, wanted: Record) -> list[RemoteRecord[T]]:
        """Like ``list_records`` through a wider query (the type only, names matched here), for when
        the provider says a record exists that the narrow listing did not show."""
        return await self.list_records(zone, wanted)

    async def sync(self, records: Sequence[Record]) -> int:
        zone = await self.zone()
        writes = 0
        for wanted in records:
            found = await self.list_records(zone, wanted)
            try:
                writes += await self._settle(zone, wanted, found)
            except RecordExists:
                # "Already exists", yet the listing did not show it (an index delay, a name the
                # filter spelled differently): look once more, wider, and settle on what is there.
                wider = await self.list_wide(zone, wanted)
                log.debug("%s: %s exists; the wider listing found %d", self.label, wanted.describe(), len(wider))
                writes += await self._settle(zone, wanted, wider)
        return writes

    async def _settle(self, zone: Z, wanted: Record, found: Sequence[RemoteRecord[T]]) -> int:
        """Make ``wanted`` the one record of its name and type: keep, update or create, then delete the rest."""
        action, current = decide(wanted, found)
        log.debug("%s: %s -> %s", self.label, wanted.describe(), action.name)
        writes = 0
        if action is Action.UPDATE and current is not None:
            await self.update_record(zone, current, wanted)
            writes += 1
        elif action is Action.CREATE:
            await self.create_record(zone, wanted)
            writes += 1
        for stale in found:
            if stale is not current and same_owner(wanted, stale.record):
                log.debug("%s: delete stale %s", self.label, stale.record.describe())
                await self.delete_record(zone, stale)
                writes += 1
        return writes

    async def confirm(self, records: Sequence[Record]) -> bool:
        zone = await self.zone()
        for wanted in records:
            found = await self.list_records(zone, wanted)
            if not (len(found) == 1 and wanted.satisfied_by(found[0].record)):
                log.debug("%s: read-back of %s found %s", self.label, wanted.describe(), found)
                return False
        return True


def api_error(provider: str, detail: str) -> ProviderError:
    return ProviderError("dns.api_error", provider=provider, detail=detail)


# --------------------------------------------------------------------------- error codes


class Fault(Enum):
    """What a provider's error code means; ``ErrorTable.error`` turns it into the one error class."""

    RATE = "rate"  # slow down (RateLimited)
    AUTH = "auth"  # the credentials are not valid at all
    FORBIDDEN = "forbidden"  # valid credentials without permission on the zone
    AUTH_OR_PERMISSION = "auth_or_permission"  # one code for both (Cloudflare 9109)
    ZONE = "zone"  # the zone is not in the account
    EXISTS = "exists"  # "record already exists" on a create


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """A provider's error codes (exact, then prefixes, then HTTP statuses) and the permission to grant."""

    codes: dict[str, Fault] = field(default_factory=dict)
    prefixes: tuple[tuple[str, Fault], ...] = ()
    statuses: dict[int, Fault] = field(default_factory=dict)
    permission: str = ""  # named by the permission hint, e.g. "Zone:DNS:Edit"

    def fault(self, codes: Iterable[object], status: int | None) -> Fault | None:
        texts = [str(code) for code in codes if code not in (None, "")]
        for text in texts:
            if text in self.codes:
                return self.codes[text]
        for text in texts:
            for prefix, fault in self.prefixes:
                if text.startswith(prefix):
                    return fault
        return self.statuses.get(status) if status is not None else None

    def error(
        self,
        *,
        provider: str,
        detail: str,
        zone: str | None,
        codes: Iterable[object] = (),
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ProviderError:
        """The error class, message and hint for one failed call."""
        fields: dict[str, Any] = {"provider": provider, "detail": detail, "zone": zone,
                                     "permission": self.permission or "DNS"}
        fault = self.fault(codes, status)
        if fault is Fault.RATE:
            return RateLimited("dns.rate_limited", hint="dns.hint.rate", retry_after=retry_after, **fields)
        if fault is Fault.AUTH:
            return ProviderAuthError("dns.auth_failed", hint="dns.hint.auth", **fields)
        if fault is Fault.FORBIDDEN:
            return ProviderAuthError("dns.forbidden", hint="dns.hint.permission", **fields)
        if fault is Fault.AUTH_OR_PERMISSION:
            return ProviderAuthError("dns.auth_failed", hint="dns.hint.auth_or_permission", **fields)
        if fault is Fault.ZONE:
            return ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", **fields)
        if fault is Fault.EXISTS:
            return RecordExists("dns.api_error", **fields)
        return ProviderError("dns.api_error", **fields)


HTTP_STATUSES: dict[int, Fault] = {429: Fault.RATE, 401: Fault.AUTH, 403: Fault.FORBIDDEN}
