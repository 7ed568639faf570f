"""One service, wired: keeper + (forward mode) forwarder + publisher, and clean signals.

``run_service`` is what the CLI runs inside ``asyncio.run``. It refuses the
combinations that cannot work, starts the forwarder (forward mode) or checks that
the port can be shared (shared-port mode), runs the keeper until SIGTERM/SIGINT/SIGHUP,
then stops everything within a second. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any, Protocol

from nat1_traversal.config import Config
from nat1_traversal.errors import Nat1Error, NetworkError, UsageError
from nat1_traversal.forward.tcp import TcpForwarder
from nat1_traversal.forward.udp import UdpForwarder
from nat1_traversal.i18n import t
from nat1_traversal.keeper.loop import Keeper
from nat1_traversal.keeper.tcp import TcpPath
from nat1_traversal.keeper.types import Filtering, KeeperTiming, MappingPath
from nat1_traversal.keeper.udp import UdpPath, filtering_hint
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.net import cancel_and_wait, family_of, is_dual_stack, is_fatal_bind_error, loopback_of, reuse_socket
from nat1_traversal.notify import Notifier, notifier_for
from nat1_traversal.portmap.manager import PortmapState
from nat1_traversal.portmap.service import ServiceForward, request_for
from nat1_traversal.reach.monitor import ReachMonitor
from nat1_traversal.reach.settings import checkers_for
from nat1_traversal.status.reporter import ServiceReporter, StatusSurface
from nat1_traversal.watch import Probe, ServiceWatch

log = logging.getLogger(__name__)

# How long shutdown may take in all before we stop waiting for the pieces.
SHUTDOWN_BUDGET = 0.8
# Of that, deleting the home router's forward (SPEC §14): one LAN round trip, with a retransmission.
PORTMAP_CLOSE_BUDGET = 0.3


class Submitter(Protocol):
    def submit(self, mapping: Mapping) -> None: ...

    async def aclose(self) -> None: ...


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
        # SPEC section 13; the results go to the reporter and on_reachable (tests).
        self.reach: ReachMonitor | None = None
        self._on_reachable = on_reachable
        self._reach_task: asyncio.Task[None] | None = None
        self.portmap = ServiceForward(request_for(config, self.local, config.proto), on_state=self._report_portmap)

    async def start(self) -> None:
        """Bind what must be bound now (forward mode) and build the keeper."""
        config = self.config
        if self._publisher is None:
            from nat1_traversal.publish import Publisher

            self._notifier = notifier_for(config)  # None without "notify"
            self._publisher = Publisher(
                config,
                after_publish=self._notifier.submit if self._notifier else None,
                on_result=self.reporter.publish_result if self.reporter else None,
            )
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
            path = TcpPath(self.local, config.keepalive_tcp, self.timing, family=family)
            servers = config.stun_tcp

            async def filtering() -> tuple[Filtering, bool] | None:
                verdict = await filtering_hint(udp_servers, self.timing, family=family, dual_stack=dual_stack)
                return None if verdict is None else (verdict, False)

        else:
            udp_forwarder: UdpForwarder | None = None
            if config.remote is not None:
                udp_forwarder = UdpForwarder(self.local, config.remote, **_limits(config, "sessions"))
                self.forwarder = udp_forwarder
                await udp_forwarder.start()
            udp_path = UdpPath(self.local, self.timing, port=udp_forwarder, family=family)
            path = udp_path
            servers = udp_servers

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
        if self.reach is not None and self._reach_task is None:
            self._reach_task = asyncio.create_task(self.reach.run(), name="nat1-reach")
        await self.keeper.run()

    async def aclose(self) -> None:
        await cancel_and_wait(self._reach_task, SHUTDOWN_BUDGET / 4)
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


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM/SIGHUP: the first asks for a clean stop, the second exits at once.

    SIGHUP (the terminal went away) used to kill the process with 129 and no cleanup.
    When it is ignored already (``nohup``), it stays ignored: that is what was asked.
    """
    installed: list[int] = []

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning(t("keeper.forced_exit"))
            logging.shutdown()
            os._exit(128 + signum)
        log.info(t("keeper.stopping"))
        stop.set()

    signums = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        signums.append(hangup)
    for signum in signums:
        try:
            loop.add_signal_handler(signum, on_signal, int(signum))
        except (NotImplementedError, RuntimeError, ValueError):  # Windows / not the main thread
            continue
        installed.append(signum)

    def remove() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return remove


async def run_service(
    config: Config,
    *,
    timing: KeeperTiming | None = None,
    stop: asyncio.Event | None = None,
    service: Service | None = None,
) -> int:
    """Run one service until a signal (or ``stop``); 0 on a clean stop.

    Raises ``Nat1Error`` for what the CLI renders: UsageError (exit 2) for modes
    that cannot work here, NetworkError when the port cannot be bound or shared,
    NatUnusable when the NAT cannot take inbound connections.
    """
    check_supported(config)
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    remove_signals = _install_signals(loop, stop)
    service = service or Service(config, timing=timing)
    status = StatusSurface(config)
    if service.reporter is None:
        service.reporter = status.add_service(config)
    keeper_task: asyncio.Task[None] | None = None
    stop_task = asyncio.create_task(stop.wait(), name="nat1-stop")
    try:
        await status.start()
        # A signal while starting ends it too: opening the home router's forward (SPEC §14) may wait
        # out a router that does not answer, and SIGTERM must still stop us within a second.
        starting = asyncio.create_task(service.start(), name="nat1-start")
        await asyncio.wait({starting, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            await cancel_and_wait(starting, SHUTDOWN_BUDGET / 4)
            return 0
        starting.result()
        keeper_task = asyncio.create_task(service.run(), name="nat1-keeper")
        await asyncio.wait({keeper_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if keeper_task.done():
            keeper_task.result()  # raises what ended the keeper (e.g. NatUnusable)
            raise Nat1Error("keeper.stopped_unexpectedly")
        return 0
    except Nat1Error as exc:
        service.reporter.state("failed", str(exc))
        raise
    finally:
        await status.aclose()
        await cancel_and_wait(stop_task, SHUTDOWN_BUDGET / 2)
        await cancel_and_wait(keeper_task, SHUTDOWN_BUDGET / 2)
        try:
            await asyncio.wait_for(service.aclose(), SHUTDOWN_BUDGET / 2)
        except asyncio.TimeoutError:
            log.debug("shutdown: some pieces did not close in time")
        remove_signals()
