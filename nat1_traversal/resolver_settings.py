"""The ``resolver`` config key (SPEC section 15), checked without importing dnspython.

``config_load`` calls ``resolver_problem``; the lookups themselves live in ``resolver``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from nat1_traversal.i18n import t

SYSTEM = "system"

__all__ = ["SYSTEM", "resolver_problem"]


def resolver_problem(value: object) -> str | None:
    """Why ``value`` is not a valid ``resolver`` setting (a message), or None."""
    if value is None or value == SYSTEM:
        return None
    if not isinstance(value, str):
        return t("resolver.bad", value=repr(value))
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
    except ValueError:
        return t("resolver.bad", value="…")
    if parts.scheme not in ("https", "http") or not host:
        return t("resolver.bad", value=f"{parts.scheme or '?'}://…")
    if parts.scheme == "http" and not _is_loopback(host):
        return t("resolver.http_not_local")
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
