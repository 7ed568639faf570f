"""The app's side of the status surface: one reporter per service, one surface per process.

``StatusSurface`` owns the registry and the server (started by the app, stopped
on shutdown). ``ServiceReporter`` is what a service's pieces call: the keeper its
state, the service each new mapping, the publisher each result. Every text that
goes in passes the log redactor, so no secret reaches a status output either.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from nat1_traversal import __version__
from nat1_traversal.config import Config
from nat1_traversal.log import REDACTOR
from nat1_traversal.model import Mapping
from nat1_traversal.status.model import PortmapStatus, State
from nat1_traversal.status.registry import StatusRegistry
from nat1_traversal.status.server import StatusServer

log = logging.getLogger(__name__)


def default_service_name(config: Config) -> str:
    """SPEC section 11: ``name``, else ``<type>-<local port>``, e.g. ``mcje-25565``."""
    return config.service_name


class ServiceReporter:
    def __init__(self, registry: StatusRegistry, name: str) -> None:
        self.registry = registry
        self.name = name

    def state(self, state: State, error: str | None = None) -> None:
        self.registry.set_state(self.name, state, REDACTOR.redact(error) if error else None)

    def mapping(self, mapping: Mapping) -> None:
        self.registry.set_mapping(self.name, str(mapping.outer))

    def publish_result(self, error: str | None) -> None:
        """The publisher's hook: None = DNS holds the mapping now, else one failed attempt."""
        if error is None:
            self.registry.dns_published(self.name)
        else:
            self.registry.dns_failed(self.name, REDACTOR.redact(error))

    def reachable(self, reachable: bool | None) -> None:
        self.registry.set_reachable(self.name, reachable)

    def portmap(self, method: str | None, gateway: str | None, renews_at: float | None, error: str | None) -> None:
        """The home router's forward (SPEC §14): ``renews_at`` is a ``time.time()`` moment."""
        renews = datetime.fromtimestamp(renews_at, timezone.utc) if renews_at is not None else None
        status = PortmapStatus(method, gateway, renews, REDACTOR.redact(error) if error else None)
        self.registry.set_portmap(self.name, status)


class StatusSurface:
    """The registry and, when ``status`` is set, its server (a port taken = a warning, no server)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = StatusRegistry(__version__)
        self.server: StatusServer | None = None

    def add_service(self, config: Config, name: str | None = None) -> ServiceReporter:
        name = name or default_service_name(config)
        self.registry.add_service(
            name,
            type=config.type,
            proto=config.proto,
            mode="forward" if config.forward_mode else "shared",
            local=str(config.local) if config.local is not None else "",
            remote=str(config.remote) if config.remote is not None else None,
            dns_name=config.dns.fqdn if config.dns.kind != "no_dns" else None,
        )
        return ServiceReporter(self.registry, name)

    async def start(self) -> None:
        if self.config.status is None:
            return
        server = StatusServer(self.registry, self.config.status, self.config.status_token)
        if await server.start():
            self.server = server

    async def aclose(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.aclose()
