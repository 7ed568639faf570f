"""The one exception tree of nat1_traversal.

Every error carries a message *key* from the catalogue (``nat1_traversal.messages``)
and named fields, so the CLI renders it once, in the user's language::

    Nat1Error                      exit 1 unless said otherwise
    ├── UsageError                 exit 2: bad command line
    ├── ConfigError                exit 2: bad config.json (may hold many problems)
    ├── NetworkError               could not reach a peer
    │   └── NetTimeout             a deadline ran out
    ├── ProtocolError              a peer sent bytes we cannot accept
    │   ├── StunErrorResponse      a STUN server answered with ERROR-CODE
    │   └── PortmapError           a home router sent a PCP/NAT-PMP/UPnP answer we cannot use
    │       └── PortmapRefused     the router answered and said no (result code, SOAP fault)
    └── ProviderError              a DNS provider refused; carries a hint key
        ├── ProviderAuthError      wrong credentials / missing permission
        ├── ZoneNotFound           the domain is not in the account
        ├── RateLimited            the provider asked us to slow down (``retry_after`` seconds)
        ├── RecordExists           a create met a record the listing did not show
        └── ProviderUnavailable    the provider's SDK is not installed

Raise with ``raise SomeError("key", field=value) from exc``; never swallow
``asyncio.CancelledError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from nat1_traversal.i18n import t


class Nat1Error(Exception):
    """Base of all expected failures; ``str()`` is the translated message."""

    exit_code: ClassVar[int] = 1

    def __init__(self, key: str, /, **fields: object) -> None:
        self.key = key
        self.fields: Mapping[str, object] = fields
        super().__init__(key)

    def render(self) -> str:
        return t(self.key, **self.fields)

    def __str__(self) -> str:
        return self.render()


class UsageError(Nat1Error):
    exit_code = 2


class ConfigError(Nat1Error):
    """One or more problems in a config file, reported together."""

    exit_code = 2

    def __init__(self, key: str, /, problems: Sequence[str] = (), **fields: object) -> None:
        super().__init__(key, **fields)
        self.problems: tuple[str, ...] = tuple(problems)

    def render(self) -> str:
        head = t(self.key, count=len(self.problems), **self.fields)
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class NetworkError(Nat1Error):
    pass


class NetTimeout(NetworkError):
    pass


class ProtocolError(Nat1Error):
    pass


class StunErrorResponse(ProtocolError):
    pass


class PortmapError(ProtocolError):
    """A home router's port-mapping answer is malformed or does not match our request."""


class PortmapRefused(PortmapError):
    """The router understood and refused: ``method``, its ``code`` and a catalogue key for why."""

    def __init__(self, key: str, /, *, method: str, code: int, reason_key: str, **fields: object) -> None:
        super().__init__(key, method=method, code=code, **fields)
        self.method = method
        self.code = code
        self.reason_key = reason_key

    def reason(self) -> str:
        return t(self.reason_key, **self.fields)

    def render(self) -> str:
        return t(self.key, reason=self.reason(), **self.fields)


class ProviderError(Nat1Error):
    """A DNS provider failed. ``hint`` is an optional catalogue key."""

    def __init__(self, key: str, /, hint: str | None = None, **fields: object) -> None:
        super().__init__(key, **fields)
        self.hint = hint

    def render(self) -> str:
        text = t(self.key, **self.fields)
        if self.hint:
            text += " " + t(self.hint, **self.fields)
        return text


class ProviderAuthError(ProviderError):
    pass


class ZoneNotFound(ProviderError):
    pass


class RateLimited(ProviderError):
    """``retry_after``: the seconds the provider asked for (its Retry-After header), or None."""

    @property
    def retry_after(self) -> float | None:
        value = self.fields.get("retry_after")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class RecordExists(ProviderError):
    pass


class ProviderUnavailable(ProviderError):
    exit_code = 2
