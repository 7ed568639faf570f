"""DNS providers: a registry with lazy imports, and settings validation.

``create_provider(settings)`` imports only the module (and SDK) of the provider
that is configured; ``validate_settings(settings)`` checks the settings without
importing any SDK and returns every problem, translated.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from nat1_traversal.addr import AddressError, parse_host_port
from nat1_traversal.config import TSIG_ALGORITHMS, DnsSettings
from nat1_traversal.i18n import t

if TYPE_CHECKING:
    from nat1_traversal.dns.base import Provider

# kind -> (module, class, display label)
_REGISTRY: dict[str, tuple[str, str]] = {
    "no_dns": ("nat1_traversal.dns.no_dns", "NoDnsProvider"),
    "cloudflare": ("nat1_traversal.dns.cloudflare", "CloudflareProvider"),
    "dynv6": ("nat1_traversal.dns.dynv6", "Dynv6Provider"),
    "webhook": ("nat1_traversal.dns.webhook", "WebhookProvider"),
    "tencentcloud": ("nat1_traversal.dns.tencentcloud", "TencentCloudProvider"),
    "alidns": ("nat1_traversal.dns.alidns", "AliDnsProvider"),
    "rfc2136": ("nat1_traversal.dns.rfc2136", "Rfc2136Provider"),
}
PROVIDER_KINDS: tuple[str, ...] = tuple(_REGISTRY)

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_*-]{1,63}(?<!-)$")
# Providers whose id is a required account identifier.
_NEEDS_ID = ("tencentcloud", "alidns", "rfc2136")
_NEEDS_TOKEN = ("cloudflare", "dynv6", "tencentcloud", "alidns", "rfc2136")


def create_provider(settings: DnsSettings, *, timeout: float | None = None) -> Provider:
    """Instantiate the configured provider (raises ProviderUnavailable when its SDK is missing)."""
    module_name, class_name = _REGISTRY[settings.kind]
    module = importlib.import_module(module_name)
    cls: type[Provider] = getattr(module, class_name)
    if timeout is None:
        return cls(settings)
    return cls(settings, timeout=timeout)


def _valid_domain(name: str) -> bool:
    labels = name.strip(".").split(".")
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels)


def _valid_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _valid_host_port(value: str) -> bool:
    try:
        parse_host_port(value, 53)
    except AddressError:
        return False
    return True


def validate_settings(settings: DnsSettings) -> list[str]:
    """Every problem of ``settings`` as a translated sentence (empty when fine)."""
    kind = settings.kind
    if kind not in _REGISTRY:
        return [t("dns.invalid.kind", kind=kind, choices=", ".join(PROVIDER_KINDS))]
    if kind == "no_dns":
        return []
    problems: list[str] = []
    provider = kind
    token = settings.token.reveal() if settings.token is not None else ""
    if kind in _NEEDS_ID and not (settings.id or "").strip():
        problems.append(t("dns.invalid.id", provider=provider))
    if kind in _NEEDS_TOKEN and not token.strip():
        problems.append(t("dns.invalid.token", provider=provider))
    domain = (settings.domain or "").strip()
    if not domain:
        problems.append(t("dns.invalid.domain", provider=provider))
    elif not _valid_domain(domain):
        problems.append(t("dns.invalid.name", field="domain", value=domain))
    sub = (settings.sub_domain or "").strip()
    if not sub:
        problems.append(t("dns.invalid.sub_domain", provider=provider))
    elif sub != "@" and not _valid_domain(sub):
        problems.append(t("dns.invalid.name", field="sub_domain", value=sub))
    if settings.ttl is not None:
        if settings.ttl <= 0:
            problems.append(t("dns.invalid.ttl", value=settings.ttl))
        elif kind == "cloudflare" and settings.ttl != 1 and not 60 <= settings.ttl <= 86400:
            problems.append(t("dns.invalid.cloudflare_ttl", value=settings.ttl))
    if kind == "webhook":
        if not _valid_url((settings.id or "").strip()):
            problems.append(t("dns.invalid.webhook_url", value=settings.id or ""))
    elif kind == "rfc2136":
        endpoint = (settings.endpoint or "").strip()
        if not endpoint or not _valid_host_port(endpoint):
            problems.append(t("dns.invalid.rfc2136_endpoint", value=endpoint))
        if token.strip():
            try:
                base64.b64decode(token.strip(), validate=True)
            except (binascii.Error, ValueError):
                problems.append(t("dns.invalid.rfc2136_secret"))
        algorithm = settings.tsig_algorithm.lower().rstrip(".")
        if algorithm not in TSIG_ALGORITHMS:
            problems.append(
                t("dns.invalid.tsig_algorithm", value=settings.tsig_algorithm, choices=", ".join(TSIG_ALGORITHMS))
            )
    elif settings.endpoint is not None and not _valid_url(settings.endpoint.strip()):
        problems.append(t("dns.invalid.endpoint", value=settings.endpoint))
    return problems
