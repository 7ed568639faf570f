"""What a provider file declares about itself: ``PROVIDER = ProviderSpec(...)``.

The registry (``nat1_traversal.dns``) imports every module of the package and
collects these declarations, so adding a provider is one file (plus its fake in
the contract suite).  Provider modules import no SDK at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from nat1_traversal.config import DnsSettings

if TYPE_CHECKING:
    from nat1_traversal.dns.base import Provider

Field = Literal["id", "token", "domain", "endpoint"]
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_*-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A provider's kind (the ``dns`` value), its class and how its settings are checked.

    ``needs``: the fields that must not be empty (``domain`` also means ``sub_domain``).
    ``endpoint``: "url" when ``endpoint`` optionally overrides the API address,
    "host_port" when it names the server (required), "unused" when it means nothing.  ``check``: extra problems,
    translated.  ``order``: position in the list of choices shown to users.  ``types``: the
    service types it can publish (None: every type; a CDN origin only "web").
    """

    kind: str
    factory: type[Provider]
    needs: frozenset[Field] = frozenset({"domain"})
    endpoint: Literal["url", "host_port", "unused"] = "url"
    check: Callable[[DnsSettings], list[str]] | None = None
    order: int = 50
    types: frozenset[str] | None = None  # service types it can publish; None = all (CDNs: "web")


def valid_domain(name: str) -> bool:
    labels = name.strip(".").split(".")
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def valid_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
