"""config.json: the typed configuration and its loader/validator (filled in by the foundation work)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from nat1_traversal.model import Endpoint, HostPort, Proto, Secret
from nat1_traversal.servers import DEFAULT_KEEPALIVE_TCP, DEFAULT_STUN_TCP, DEFAULT_STUN_UDP

ServiceType = Literal["mcje", "mcbe", "web", "tcp", "udp"]
# A provider's kind, declared by its file in nat1_traversal/dns (nat1_traversal.dns.provider_kinds()).
DnsKind = str
ProxyProtocol = Literal["v1", "v2"]
UpnpMode = Literal["auto", True, False]  # SPEC section 14

# SPEC section 12: loopback by default, so that nothing is exposed unless asked for.
DEFAULT_STATUS = Endpoint(ipaddress.IPv4Address("127.0.0.1"), 8730)

SERVICE_PROTO: dict[str, Proto] = {"mcje": "tcp", "mcbe": "udp", "web": "tcp", "tcp": "tcp", "udp": "udp"}
# SRV owner name prefix per type (SPEC section 4); the owner is prefix + sub_domain + "." + domain.
SRV_PREFIX: dict[str, str] = {
    "mcje": "_minecraft._tcp.",
    "mcbe": "_minecraft._udp.",
    "web": "_web._tcp.",
    "tcp": "_tcp.",
    "udp": "_udp.",
}


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """What a DNS provider needs; ``id`` may be a URL (webhook) or a TSIG key name (rfc2136)."""

    kind: DnsKind = "no_dns"
    id: str | None = None
    token: Secret | None = None
    domain: str | None = None
    sub_domain: str | None = None
    ttl: int | None = None
    endpoint: str | None = None
    tsig_algorithm: str = "hmac-sha256"

    @property
    def fqdn(self) -> str:
        """``<sub_domain>.<domain>`` without the trailing dot ("@"/empty sub = apex)."""
        sub = (self.sub_domain or "").strip(".")
        domain = (self.domain or "").strip(".")
        return domain if sub in ("", "@") else f"{sub}.{domain}"


@dataclass(frozen=True, slots=True)
class Config:
    type: ServiceType = "mcje"
    dns: DnsSettings = field(default_factory=DnsSettings)
    local: Endpoint | None = None
    remote: Endpoint | None = None
    proxy_protocol: ProxyProtocol | None = None
    # Server lists: null in config.json means the built-in list (resolved once, at load).
    stun_tcp: tuple[HostPort, ...] = DEFAULT_STUN_TCP
    stun_udp: tuple[HostPort, ...] = DEFAULT_STUN_UDP
    keepalive_tcp: tuple[HostPort, ...] = DEFAULT_KEEPALIVE_TCP
    keepalive_interval: float = 10.0
    on_change: str | None = None
    # Forward mode limits (an extension of SPEC section 3); None = the forwarder's default:
    # 512 TCP connections / 1024 UDP sessions, idle 7200 s for TCP / 120 s for UDP.
    max_connections: int | None = None
    idle_timeout: float | None = None
    # Per source IP address (same extension); None = 64 TCP connections / 128 UDP sessions.
    max_connections_per_source: int | None = None
    # Status server (SPEC section 12): None = off (``"status": false``).
    status: Endpoint | None = DEFAULT_STATUS
    status_token: Secret | None = None
    # Home router port forward (SPEC section 14): "auto", True or False; None = the default route's gateway.
    upnp: UpnpMode = "auto"
    upnp_gateway: ipaddress.IPv4Address | None = None
    # Notifications (SPEC section 15): Apprise URLs (secrets) and the message template (None = default).
    notify: tuple[Secret, ...] = ()
    notify_template: str | None = None
    # Name lookups of STUN/keepalive servers and -q (SPEC section 15): "system" or a DoH URL.
    resolver: str = "system"
    # Reachability checks (SPEC section 13): None = the built-in checkers, () = none;
    # reach=False (JSON "reach_check": false) turns the hairpin off too.
    reach_check: tuple[str, ...] | None = None
    reach_interval: float = 300.0
    reach: bool = True
    # Several services in one process (SPEC section 11): the service's name (None = the default
    # ``<type>-<local port>``) and, on the file's config only, every service merged with the defaults.
    name: str | None = None
    services: tuple[Config, ...] = ()

    @property
    def service_name(self) -> str:
        """SPEC section 11: ``name``, else ``<type>-<local port>``, e.g. ``mcje-25565``."""
        if self.name:
            return self.name
        return f"{self.type}-{self.local.port if self.local is not None else 0}"

    @property
    def all_services(self) -> tuple[Config, ...]:
        """The services to run: the ``services`` list, or this config as the only one."""
        return self.services or (self,)

    @property
    def proto(self) -> Proto:
        return SERVICE_PROTO[self.type]

    @property
    def srv_prefix(self) -> str:
        return SRV_PREFIX[self.type]

    @property
    def forward_mode(self) -> bool:
        return self.remote is not None


# --------------------------------------------------------------------------- loading

KNOWN_KEYS: tuple[str, ...] = (
    "type", "dns", "id", "token", "domain", "sub_domain", "local", "remote", "proxy_protocol",
    "ttl", "endpoint", "tsig_algorithm", "stun_tcp", "stun_udp", "keepalive_tcp",
    "keepalive_interval", "on_change", "max_connections", "idle_timeout", "status", "status_token",
    "max_connections_per_source",
    "upnp", "upnp_gateway",
    "notify", "notify_template", "resolver",
    "reach_check", "reach_interval",
    "name", "services",
)
# The range of every number in config.json, inclusive (README's config table lists them).
# NaN and Infinity are never accepted. A number key without an entry gets 0..NUMBER_CAP.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "keepalive_interval": (1, 3600),  # seconds; NATs forget an idle mapping after 30-300 s
    "idle_timeout": (1, 604800),  # seconds (7 days)
    "ttl": (1, 86400),  # seconds (1 day; Cloudflare's maximum)
    "max_connections": (1, 65535),  # TCP connections / UDP sessions at once
    "max_connections_per_source": (1, 65535),
}
NUMBER_CAP = 1_000_000_000
TSIG_ALGORITHMS: tuple[str, ...] = (
    "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5",
)

# The file written on request when config.json is missing: the keys of §3 and the second-floor
# keys users most need (status page, router forward, reachability check, notifications), all defaults.
DEFAULT_CONFIG_TEXT = """{
    "type": "mcje",
    "dns": "no_dns",
    "id": null,
    "token": null,
    "domain": "example.com",
    "sub_domain": "mc",
    "local": ":25565",
    "remote": null,
    "proxy_protocol": null,
    "ttl": null,
    "endpoint": null,
    "stun_tcp": null,
    "stun_udp": null,
    "keepalive_tcp": null,
    "keepalive_interval": 10,
    "on_change": null,
    "status": "127.0.0.1:8730",
    "upnp": "auto",
    "reach_check": null,
    "notify": []
}
"""
