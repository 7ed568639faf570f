"""``dns: no_dns``: nothing is published (users copy the mapping from the log)."""

from __future__ import annotations

from collections.abc import Sequence

from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.dns.spec import ProviderSpec


class NoDnsProvider(Provider):
    label = "no_dns"

    async def sync(self, records: Sequence[Record]) -> int:
        return 0


PROVIDER = ProviderSpec("no_dns", NoDnsProvider, needs=frozenset(), order=0)
