"""One service: keeper + (forward mode) forwarder + publisher, started and closed as one.

The supervisor (``nat1_traversal.supervisor``) runs one ``Service`` per entry of
``services`` (SPEC section 11), or the only one of a file without it. A service
refuses the combinations that cannot work, starts the forwarder (forward mode) or
checks that the port can be shared (shared-port mode), and runs its keeper until
cancelled. Services of one process share the health of their STUN and keepalive
servers (``ServerPool``) and, through ``publish_shared``, their DNS accounts.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from nat1_traversal.config import Config
from nat1_traversal.errors import NetworkError, UsageError
from nat1_traversal.forward.tcp import TcpForwarder
from nat1_traversal.forward.udp import UdpForwarder
from nat1_traversal.i18n import t
from nat1_traversal.keeper.loop import Keeper
from nat1_traversal.keeper.tcp import TcpPath
from nat1_traversal.keeper.types import Filtering, KeeperTiming, MappingPath
from nat1_traversal.keeper.udp import UdpPath, filtering_hint
from nat1_traversal.model import Endpoint, HostPort, Mapping
from nat1_traversal.net import cancel_and_wait, family_of, is_dual_stack, is_fatal_bind_error, loopback_of, reuse_socket
from nat1_traversal.notify import Notifier, notifier_for
from nat1_traversal.portmap.manager import PortmapState
from nat1_traversal.portmap.service import ServiceForward, request_for
from nat1_traversal.publish_shared import AccountMember
from nat1_traversal.reach.monitor import ReachMonitor
from nat1_traversal.reach.proxy import warn_fake_ips
from nat1_traversal.reach.settings import checkers_for
from nat1_traversal.status.reporter import ServiceReporter
from nat1_traversal.stun.client import ServerList
from nat1_traversal.watch import Probe, ServiceWatch

if TYPE_CHECKING:
    from nat1_traversal.dns.base import Provider

log = logging.getLogger(__name__)

# How long shutdown may take in all before we stop waiting for the pieces.
SHUTDOWN_BUDGET = 0.8
# Of that, deleting the home router's forward (SPEC §14): one LAN round trip, with a retransmission.
PORTMAP_CLOSE_BUDGET = 0.3


class Submitter(Protocol):
    def submit(self, mapping: Mapping) -> None: ...

    async def aclose(self) -> None: ...


class ServerPool:
    """One ``ServerList`` per server list and kind, shared by every service of the process:
    a server that failed for one service is tried last by all (SPEC section 11)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, tuple[HostPort, ...]], ServerList] = {}

    def get(self, kind: str, servers: Sequence[HostPort]) -> ServerList:
        key = (kind, tuple(servers))
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = ServerList(servers, policy="stable")
        return found


def check_supported(config: Config, *, platform: str = sys.platform) -> None:
    """Refuse what cannot work (SPEC section 1): raises UsageError (exit 2)."""
    if config.forward_mode:
        return
    if platform == "win32" or not hasattr(socket, "SO_REUSEPORT"):
        raise UsageError("keeper.shared_unsupported_os")
    if config.type == "udp":
        raise UsageError("keeper.shared_udp")


class Service:
    """The pieces of one running service; ``run()`` until cancelled, then ``aclose()``."""

    def __init__(
        self,
        config: Config,
        *,
        timing: KeeperTiming | None = None,
        publisher: Submitter | None = None,
        probe: Probe | None = None,
        reporter: ServiceReporter | None = None,
        on_reachable: Callable[[bool | None], None] | None = None,
        servers: ServerPool | None = None,
        provider: Provider | None = None,
    ) -> None:
        if config.local is None:
            raise UsageError("keeper.no_local")
        self.config = config
        self.local: Endpoint = config.local
        self.timing = timing or KeeperTiming.for_interval(config.keepalive_interval)
        self._publisher = publisher
        self._probe = probe
        self.forwarder: TcpForwarder | UdpForwarder | None = None
        self.watch: ServiceWatch | None = None
        self.keeper: Keeper | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._notifier: Notifier | None = None
        self.reporter = reporter  # the status page (SPEC section 12); None = not reported
        self.servers = servers or ServerPool()  # shared by the services of one process
        self._provider = provider  # None = the publisher creates the config's own
        # SPEC section 13; the results go to the reporter and on_reachable (tests).
        self.reach: ReachMonitor | None = None
        self._on_reachable = on_reachable
        self._reach_task: asyncio.Task[None] | None = None
        self._proxy_task: asyncio.Task[bool] | None = None
        # The forward is described as "nat1_traversal <service name>" (how a crashed run's is found again).
        self.portmap = ServiceForward(request_for(config, self.local, config.proto, config.service_name),
                                      on_state=self._report_portmap)

    async def start(self) -> None:
        """Bind what must be bound now (forward mode) and build the keeper."""
        config = self.config
        if self._publisher is None:
            from nat1_traversal.publish import Publisher

            self._notifier = notifier_for(config)  # None without "notify"
            self._publisher = Publisher(
                config,
                provider=self._provider,
                after_publish=self._notifier.submit if self._notifier else None,
                on_result=self.reporter.publish_result if self.reporter else None,
            )
            if isinstance(self._provider, AccountMember):  # a shared A record may come to this service
                self._provider.on_republish(self._publisher.refresh)
        family = family_of(self.local)
        dual_stack = is_dual_stack(self.local)
        if config.type != "udp":
            target = config.remote if config.remote is not None else loopback_of(self.local)
            self.watch = ServiceWatch(config.type, target, self.timing, probe=self._probe)
        path: MappingPath
        udp_servers = config.stun_udp
        if config.proto == "tcp":
            if config.remote is not None:
                self.forwarder = TcpForwarder(
                    self.local, config.remote, proxy_protocol=config.proxy_protocol, **_limits(config, "connections")
                )
                await self.forwarder.start()
            path = TcpPath(self.local, self.servers.get("keepalive", config.keepalive_tcp), self.timing, family=family)
            servers = self.servers.get("stun_tcp", config.stun_tcp)

            async def filtering() -> tuple[Filtering, bool] | None:
                verdict = await filtering_hint(udp_servers, self.timing, family=family, dual_stack=dual_stack)
                return None if verdict is None else (verdict, False)

        else:
            udp_forwarder: UdpForwarder | None = None
            if config.type == "mcbe" and config.remote is None:
                # SPEC section 13: Bedrock's unconnected pong names the server's own port, and some
                # clients reconnect to it. Only forward mode sees the pong and can rewrite it.
                log.warning(t("keeper.mcbe_shared_pong", port=self.local.port))
            if config.remote is not None:
                udp_forwarder = UdpForwarder(self.local, config.remote, **_limits(config, "sessions"))
                self.forwarder = udp_forwarder
                await udp_forwarder.start()
            udp_path = UdpPath(self.local, self.timing, port=udp_forwarder, family=family)
            path = udp_path
            servers = self.servers.get("stun_udp", udp_servers)

            async def filtering() -> tuple[Filtering, bool] | None:
                return await udp_path.filtering(udp_servers)

        self.keeper = Keeper(
            path,
            servers,
            submit=self._submit,
            timing=self.timing,
            before_mapping=self._before_mapping,
            filtering=filtering,
            on_state=self.reporter.state if self.reporter else None,
            forward_held=lambda: self.portmap.held_method,
        )
        # SPEC §14: the home router's forward first, so that the NAT check sees the line as it will be used.
        await self.portmap.start()
        if config.reach:
            self.reach = ReachMonitor(
                config.type, checkers_for(config.reach_check), config.reach_interval,
                keepalive_interval=config.keepalive_interval, on_result=self._reachable,
                stun_now=self.keeper.stun_now,
            )  # fmt: skip

    def _reachable(self, reachable: bool | None) -> None:
        """A reach check's result: the status registry's "reachable" (SPEC section 12)."""
        if self.reporter is not None:
            self.reporter.reachable(reachable)
        if self._on_reachable is not None:
            self._on_reachable(reachable)

    def _report_portmap(self, state: PortmapState) -> None:
        """The home router's forward, for the status page (SPEC §14)."""
        if self.reporter is not None:
            self.reporter.portmap(state.method, state.gateway, state.renews_at, state.error)

    def _submit(self, mapping: Mapping) -> None:
        assert self._publisher is not None
        if self.reporter is not None:
            self.reporter.mapping(mapping)
        if self.config.type == "mcbe" and isinstance(self.forwarder, UdpForwarder):
            self.forwarder.set_advertised_port(mapping.outer.port)  # Bedrock pongs name the public port
        self._publisher.submit(mapping)
        if self.reach is not None:
            self.reach.new_mapping(mapping)

    async def _before_mapping(self) -> None:
        """Shared-port mode: the service must hold the port first, and let us share it."""
        if self.watch is not None:
            if not self.config.forward_mode:
                await self.watch.wait_ready()
            # Forward mode does not wait for the server, but says at once how it is.
            check_first = self.config.forward_mode
            self._watch_task = asyncio.create_task(self.watch.run(check_first=check_first), name="nat1-local-watch")
        if not self.config.forward_mode:
            self._check_shareable()

    def _check_shareable(self) -> None:
        try:
            sock = reuse_socket(self.config.proto, self.local)
        except NetworkError as exc:
            if is_fatal_bind_error(exc):
                cause = exc.__cause__
                error = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
                raise NetworkError("keeper.shared_bind_failed", local=str(self.local), error=error) from exc
            raise
        sock.close()

    async def run(self) -> None:
        assert self.keeper is not None, "start() first"
        if self._proxy_task is None:
            # SPEC section 13: say at start when the server names point into a proxy's fake-IP range.
            servers = [*self.config.stun_tcp, *self.config.stun_udp, *self.config.keepalive_tcp]
            self._proxy_task = asyncio.create_task(warn_fake_ips(servers), name="nat1-proxy-check")
        if self.reach is not None and self._reach_task is None:
            self._reach_task = asyncio.create_task(self.reach.run(), name="nat1-reach")
        await self.keeper.run()

    async def aclose(self) -> None:
        await cancel_and_wait(self._reach_task, SHUTDOWN_BUDGET / 4)
        await cancel_and_wait(self._proxy_task, SHUTDOWN_BUDGET / 4)
        await self.portmap.aclose(PORTMAP_CLOSE_BUDGET)
        await cancel_and_wait(self._watch_task, SHUTDOWN_BUDGET / 2)
        if self.forwarder is not None:
            await self.forwarder.aclose()
        if self._publisher is not None:
            await self._publisher.aclose()
        if self._notifier is not None:
            await self._notifier.aclose()


def _limits(config: Config, cap_name: str) -> dict[str, Any]:
    """The forwarder keyword arguments the config sets; the rest keep their defaults."""
    limits: dict[str, Any] = {}
    if config.max_connections is not None:
        limits[f"max_{cap_name}"] = config.max_connections
    if config.idle_timeout is not None:
        limits["idle_timeout"] = config.idle_timeout
    if config.max_connections_per_source is not None:
        limits["max_per_source"] = config.max_connections_per_source
    return limits
