"""The supervisor: owns every task of the process, one service or several (SPEC section 11).

Each service (``nat1_traversal.service.Service``) runs as one task: start (bind the
forwarder), then its keeper. With two or more services, that task runs in a context
naming the service (``service_log``: the ``[name]`` prefix of its log lines), and a
service that fails for good (its port held by a socket it cannot share, a NAT that
cannot work for it) is logged at ERROR, shown ``failed`` on the status page and
stopped; the others go on, and the process ends (1) only when none is left. With one
service, its failure ends the process as it always did (the CLI renders the error).

Shared by all services: the status surface, the health of the STUN and keepalive
servers (``ServerPool``) and the DNS accounts (``publish_shared.AccountPool``).
Stopping cancels every task and closes every service at once, within the budget.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence

from nat1_traversal import service_log
from nat1_traversal.config import Config
from nat1_traversal.errors import Nat1Error, UsageError
from nat1_traversal.i18n import t
from nat1_traversal.keeper.types import KeeperTiming
from nat1_traversal.publish_shared import AccountPool
from nat1_traversal.service import SHUTDOWN_BUDGET, ServerPool, Service, check_supported
from nat1_traversal.status.reporter import StatusSurface

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(
        self,
        config: Config,
        *,
        timing: KeeperTiming | None = None,
        services: Sequence[Service] | None = None,
        accounts: AccountPool | None = None,
    ) -> None:
        self.config = config
        self.status = StatusSurface(config)
        self.servers = ServerPool()
        configs = config.all_services
        self.multi = len(configs) > 1
        if services is None:
            # One service keeps its publisher's own provider (exactly as before); several share accounts.
            pool = (accounts or AccountPool()) if self.multi else None
            services = [
                Service(c, timing=timing, servers=self.servers, provider=pool.member(c, i) if pool else None)
                for i, c in enumerate(configs)
            ]
        self.services = list(services)
        for service in self.services:
            if service.reporter is None:
                service.reporter = self.status.add_service(service.config, service.config.service_name)
        self._closed: set[int] = set()

    def check(self) -> None:
        """Refuse, before anything starts, what cannot work here (UsageError, exit 2)."""
        for index, service in enumerate(self.services):
            try:
                check_supported(service.config)
            except UsageError as exc:
                if not self.multi:
                    raise
                raise UsageError("services.in_service", path=f"services[{index}]（{service.config.service_name}）",
                                 problem=exc.render()) from exc

    async def run(self, stop: asyncio.Event) -> int:
        """Until ``stop`` (0), or until no service is left (raises its error with one service, else 1)."""
        if self.multi:
            service_log.install()
        tasks: dict[asyncio.Task[None], Service] = {}
        stop_task = asyncio.create_task(stop.wait(), name="nat1-stop")
        try:
            await self.status.start()
            for service in self.services:
                context = contextvars.copy_context()
                if self.multi:
                    context.run(service_log.SERVICE.set, service.config.service_name)
                # Created inside the context: the task runs in a copy of it (Python 3.10 has no context=).
                task = context.run(asyncio.create_task, self._run_one(service),
                                   name=f"nat1-service-{service.config.service_name}")
                tasks[task] = service
            pending = set(tasks)
            while pending:
                done, _ = await asyncio.wait({*pending, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                if stop_task in done:
                    return 0
                pending -= done
                if not self.multi:
                    next(iter(done)).result()  # raises what ended the service
            log.error(t("services.all_failed"))
            return 1
        finally:
            await self._shutdown(stop_task, tasks)

    async def _run_one(self, service: Service) -> None:
        """One service, start to end; it only ever ends by failing (or being cancelled)."""
        assert service.reporter is not None
        try:
            await service.start()
            await service.run()
            raise Nat1Error("keeper.stopped_unexpectedly")
        except Nat1Error as exc:
            service.reporter.state("failed", str(exc))
            if not self.multi:
                raise
            log.error(t("services.failed", name=service.config.service_name, error=exc.render()))
        except Exception as exc:  # a bug of ours: this service stops, the others go on
            if not self.multi:
                raise
            service.reporter.state("failed", f"{type(exc).__name__}: {exc}")
            log.debug("service failed", exc_info=True)
            log.error(t("services.failed", name=service.config.service_name, error=f"{type(exc).__name__}: {exc}"))
        await self._close(service)

    async def _close(self, service: Service) -> None:
        if id(service) in self._closed:
            return
        self._closed.add(id(service))
        try:
            await asyncio.wait_for(service.aclose(), SHUTDOWN_BUDGET / 2)
        except asyncio.TimeoutError:
            log.debug("shutdown: some pieces of %s did not close in time", service.config.service_name)

    async def _shutdown(self, stop_task: asyncio.Task[bool], tasks: dict[asyncio.Task[None], Service]) -> None:
        """Every task cancelled and every service closed, together, within the budget."""
        await self.status.aclose()
        stop_task.cancel()
        running = [task for task in tasks if not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=SHUTDOWN_BUDGET / 2)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: reported already
        await asyncio.gather(*(self._close(service) for service in self.services))
