"""DNS providers: a registry that discovers them, and settings validation.

Every module of this package that declares ``PROVIDER = ProviderSpec(...)`` is a
provider; ``providers()`` imports them all once (they import no SDK at import
time).  ``create_provider(settings)`` builds the configured one, importing its
SDK only then; ``validate_settings(settings)`` checks the settings from the
declarations and returns every problem, translated.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

from nat1_traversal.addr import AddressError, parse_host_port
from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.spec import ProviderSpec, valid_domain, valid_url
from nat1_traversal.i18n import t

if TYPE_CHECKING:
    from nat1_traversal.dns.base import Provider

__all__ = ["create_provider", "provider_kinds", "providers", "validate_settings"]


@functools.cache
def providers() -> dict[str, ProviderSpec]:
    """kind -> declaration, for every provider module of this package, in display order."""
    found: list[ProviderSpec] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        spec = getattr(module, "PROVIDER", None)
        if isinstance(spec, ProviderSpec):
            found.append(spec)
    found.sort(key=lambda spec: (spec.order, spec.kind))
    return {spec.kind: spec for spec in found}


def provider_kinds() -> tuple[str, ...]:
    """Every valid value of the ``dns`` key."""
    return tuple(providers())


def create_provider(settings: DnsSettings, *, timeout: float | None = None) -> Provider:
    """Instantiate the configured provider (raises ProviderUnavailable when its SDK is missing)."""
    factory = providers()[settings.kind].factory
    if timeout is None:
        return factory(settings)
    return factory(settings, timeout=timeout)


def _valid_host_port(value: str) -> bool:
    try:
        parse_host_port(value, 53)
    except AddressError:
        return False
    return True


def validate_settings(settings: DnsSettings) -> list[str]:
    """Every problem of ``settings`` as a translated sentence (empty when fine)."""
    kind = settings.kind
    spec = providers().get(kind)
    if spec is None:
        return [t("dns.invalid.kind", kind=kind, choices=", ".join(provider_kinds()))]
    if not spec.needs:
        return []
    problems: list[str] = []
    provider = kind
    token = settings.token.reveal() if settings.token is not None else ""
    if "id" in spec.needs and not (settings.id or "").strip():
        problems.append(t("dns.invalid.id", provider=provider))
    if "token" in spec.needs and not token.strip():
        problems.append(t("dns.invalid.token", provider=provider))
    if "domain" in spec.needs:
        problems.extend(_name_problems(settings, provider))
    if settings.ttl is not None and settings.ttl <= 0:
        problems.append(t("dns.invalid.ttl", value=settings.ttl))
    endpoint = (settings.endpoint or "").strip()
    if spec.endpoint == "host_port":
        if not endpoint or not _valid_host_port(endpoint):
            problems.append(t("dns.invalid.server_endpoint", provider=provider, value=endpoint))
    elif spec.endpoint == "url" and settings.endpoint is not None and not valid_url(endpoint):
        problems.append(t("dns.invalid.endpoint", value=settings.endpoint))
    if spec.check is not None:
        problems.extend(spec.check(settings))
    return problems


def _name_problems(settings: DnsSettings, provider: str) -> list[str]:
    problems: list[str] = []
    domain = (settings.domain or "").strip()
    if not domain:
        problems.append(t("dns.invalid.domain", provider=provider))
    elif not valid_domain(domain):
        problems.append(t("dns.invalid.name", field="domain", value=domain))
    sub = (settings.sub_domain or "").strip()
    if not sub:
        problems.append(t("dns.invalid.sub_domain", provider=provider))
    elif sub != "@" and not valid_domain(sub):
        problems.append(t("dns.invalid.name", field="sub_domain", value=sub))
    return problems

