"""DNS accounts shared by the services of one process (SPEC section 11).

Every service keeps its own ``Publisher`` (its retries, its ``on_change``, its
notifier, its status), but their providers are members of one ``SharedAccount``
per provider account (same dns kind, id, endpoint and domain):

* writes to one account go one at a time (one lock), so services never race on a
  record and a provider's rate limit sees one client;
* an address record (A/AAAA) is shared by every service that publishes the same
  name: it holds the address of the first service in the list that has one. A
  service whose public address differs is warned about once and publishes the first
  one's address instead. Once the account has made a name's address true, another
  service's publish of the same address writes nothing (one write for the record);
  a service's own next mapping sends it again, as with one service (the webhook gets
  its two POSTs, a provider that compares before writing repairs a lost record);
* SRV records stay per service;
* when the service whose address a record holds stops (it failed for good), the
  next live service on that name is asked to publish again (``republish``), so
  the record does not keep a dead service's address.

Providers keep settings of their own (the webhook sends ``sub_domain``), so an
account holds one provider per ``sub_domain``; they share the lock and the records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns import create_provider
from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.i18n import t

log = logging.getLogger(__name__)

AccountKey = tuple[str, str | None, str | None, str | None]
RecordKey = tuple[str, str]  # (type, lower-case name)
ProviderFactory = Callable[[DnsSettings], Provider]


def account_key(settings: DnsSettings) -> AccountKey:
    return (settings.kind, settings.id, settings.endpoint, (settings.domain or "").lower() or None)


def _key(record: Record) -> RecordKey:
    return (record.type, record.name.lower())


def _is_address(record: Record) -> bool:
    return record.type in ("A", "AAAA")


class SharedAccount:
    """One provider account: a lock, the address claims of its services, and what it wrote."""

    def __init__(self, factory: ProviderFactory) -> None:
        self._factory = factory
        self.lock = asyncio.Lock()
        self._providers: dict[str | None, tuple[Provider, int]] = {}  # sub_domain -> (provider, users)
        # name -> service -> (its place in the list, the address it wants)
        self._claims: dict[RecordKey, dict[str, tuple[int, str]]] = {}
        # The address records this account made true, and the service that did.
        self.synced: dict[RecordKey, tuple[str, str]] = {}
        self._warned: set[tuple[str, str, str]] = set()
        self._republish: dict[str, Callable[[], None]] = {}  # service -> "publish your records again"

    def on_republish(self, name: str, hook: Callable[[], None]) -> None:
        self._republish[name] = hook

    def provider(self, settings: DnsSettings) -> Provider:
        found = self._providers.get(settings.sub_domain)
        if found is None:
            found = (self._factory(settings), 0)
        self._providers[settings.sub_domain] = (found[0], found[1] + 1)
        return found[0]

    async def release(self, name: str, settings: DnsSettings) -> None:
        self._republish.pop(name, None)
        for key, claims in self._claims.items():
            if name not in claims:
                continue
            owner = min(claims, key=lambda other: claims[other][0])
            claims.pop(name)
            if owner == name and claims:
                self._hand_over(key, name, claims)
        provider, users = self._providers[settings.sub_domain]
        if users > 1:
            self._providers[settings.sub_domain] = (provider, users - 1)
            return
        del self._providers[settings.sub_domain]
        await provider.aclose()

    def _hand_over(self, key: RecordKey, gone: str, claims: dict[str, tuple[int, str]]) -> None:
        """``gone`` owned the record: the next live service publishes, if its address differs."""
        following = min(claims, key=lambda other: claims[other][0])
        address = claims[following][1]
        hook = self._republish.get(following)
        made = self.synced.get(key)
        if (made is not None and made[0] == address) or hook is None:
            return
        log.info(t("services.address_moved", fqdn=key[1], name=gone, next=following, ip=address))
        hook()

    def choose(self, name: str, order: int, record: Record) -> Record:
        """The address record to publish for ``name``'s wish: the first service's."""
        assert isinstance(record.data, str)
        claims = self._claims.setdefault(_key(record), {})
        claims[name] = (order, record.data)
        first = min(claims, key=lambda other: claims[other][0])
        address = claims[first][1]
        for other, (_order, wanted) in claims.items():  # whoever came first: each conflict said once
            warned = (other, wanted, address)
            if wanted != address and warned not in self._warned:
                self._warned.add(warned)
                log.warning(t("services.address_conflict", fqdn=record.name, name=other, ip=wanted,
                              first=first, first_ip=address))
        return record if address == record.data else replace(record, data=address)


class AccountMember(Provider):
    """One service's view of a shared account; the ``Publisher`` uses it as its provider."""

    def __init__(self, account: SharedAccount, config: Config, order: int) -> None:
        super().__init__(config.dns)
        self._account = account
        self._name = config.service_name
        self._order = order
        self._provider = account.provider(config.dns)
        self._pending: list[Record] = []  # written, not read back yet

    def on_republish(self, hook: Callable[[], None]) -> None:
        """``hook`` publishes this service's records again (``Publisher.refresh``)."""
        self._account.on_republish(self._name, hook)

    async def sync(self, records: Sequence[Record]) -> int:
        account = self._account
        wanted = [account.choose(self._name, self._order, r) if _is_address(r) else r for r in records]
        async with account.lock:
            todo = [r for r in wanted if not (_is_address(r) and self._made_by_another(r))]
            writes = await self._provider.sync(todo) if todo else 0
        self._pending = todo
        if not writes:
            self._commit()
        return writes

    async def confirm(self, records: Sequence[Record]) -> bool:
        async with self._account.lock:
            confirmed = await self._provider.confirm(self._pending)
        if confirmed:
            self._commit()
        return confirmed

    def _made_by_another(self, record: Record) -> bool:
        """Whether another service of the account already made this address record true."""
        made = self._account.synced.get(_key(record))
        return made is not None and made[0] == record.data and made[1] != self._name

    def _commit(self) -> None:
        for record in self._pending:
            if _is_address(record):
                assert isinstance(record.data, str)
                self._account.synced[_key(record)] = (record.data, self._name)
        self._pending = []

    async def aclose(self) -> None:
        await self._account.release(self._name, self.settings)


class AccountPool:
    """Every account of the process; ``member`` gives a service its provider."""

    def __init__(self, factory: ProviderFactory = create_provider) -> None:
        self._factory = factory
        self._accounts: dict[AccountKey, SharedAccount] = {}

    def member(self, config: Config, order: int) -> Provider | None:
        """None for ``no_dns`` (nothing to share: the publisher keeps its own)."""
        if config.dns.kind == "no_dns":
            return None
        key = account_key(config.dns)
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = SharedAccount(self._factory)
        member = AccountMember(account, config, order)
        member.label = member._provider.label  # type: ignore[misc]  # the real provider's name in messages
        return member
