"""Watching the local service: wait until it answers, then log when its state or MOTD changes.

Shared-port mode maps the port only once the service holds it (it must bind first,
through hook_bind.so, or its plain bind would fail against our socket). Afterwards
a slow poll logs "down"/"back" and a new MOTD once per change, never per poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from nat1_traversal.i18n import t
from nat1_traversal.keeper.types import KeeperTiming
from nat1_traversal.minecraft import ProbeResult, probe_local
from nat1_traversal.model import Endpoint

log = logging.getLogger(__name__)

Probe = Callable[[str, Endpoint], Awaitable[ProbeResult]]


class ServiceWatch:
    def __init__(
        self,
        service_type: str,
        target: Endpoint,
        timing: KeeperTiming,
        *,
        probe: Probe | None = None,
    ) -> None:
        self._type = service_type
        self._target = target
        self._timing = timing
        self._probe = probe or self._default_probe
        self.up: bool | None = None
        self.motd: str | None = None
        self.motd_logs = 0

    async def _default_probe(self, service_type: str, target: Endpoint) -> ProbeResult:
        return await probe_local(service_type, target, timeout=self._timing.probe_timeout)

    async def check(self) -> bool:
        """Probe once and log what changed; returns whether the service answered."""
        result = await self._probe(self._type, self._target)
        if result.ok and self.up is not True:
            log.info(t("keeper.local_up", addr=str(self._target)))
        elif not result.ok and self.up is True:
            log.warning(t("keeper.local_down", addr=str(self._target)))
        self.up = result.ok
        if result.ok and result.motd is not None and result.motd != self.motd:
            self.motd = result.motd
            self.motd_logs += 1
            log.info(t("keeper.motd", motd=result.motd))
        return result.ok

    async def wait_ready(self) -> None:
        """Return once the service answers; says once that we are waiting."""
        if await self.check():
            return
        log.info(t("keeper.waiting_local", addr=str(self._target)))
        while True:
            await asyncio.sleep(self._timing.probe_interval)
            if await self.check():
                return

    async def run(self, *, check_first: bool = False) -> None:
        """Poll slowly forever (the owner cancels it); ``check_first``: probe at once."""
        if check_first and not await self.check() and self.up is False:
            log.warning(t("keeper.local_down", addr=str(self._target)))
        while True:
            await asyncio.sleep(self._timing.watch_interval)
            await self.check()
