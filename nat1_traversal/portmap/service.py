"""What the app and ``-t`` use: the forward of one local port, tied to a service's life (SPEC §14)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable

from nat1_traversal.config import Config
from nat1_traversal.model import Endpoint
from nat1_traversal.net import cancel_and_wait
from nat1_traversal.portmap.manager import CLOSE_BUDGET, PortForwarder, PortmapRequest, PortmapState
from nat1_traversal.portmap.model import Proto


def request_for(config: Config, local: Endpoint, proto: Proto, name: str | None = None) -> PortmapRequest | None:
    """The forward ``config`` asks for on ``local``, or ``None`` (off, no fixed port, an IPv6-only address)."""
    if config.upnp is False or not local.port:
        return None
    if local.ip.version == 6 and not local.ip.is_unspecified:
        return None  # IPv6 needs no port forward through a NAT; PCP/UPnP here are IPv4 only
    return PortmapRequest(
        name or f"{config.type}-{local.port}", proto, local.port, mode=config.upnp, gateway=config.upnp_gateway
    )


class ServiceForward:
    """``start()`` opens (before the NAT check) and keeps renewing; ``aclose()`` deletes within a budget."""

    def __init__(
        self, request: PortmapRequest | None, *, on_state: Callable[[PortmapState], None] | None = None
    ) -> None:
        self.forwarder = PortForwarder(request, on_state=on_state) if request is not None else None
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> PortmapState | None:
        return self.forwarder.state if self.forwarder is not None else None

    @property
    def held_method(self) -> str | None:
        """The method holding the forward now ("PCP", "NAT-PMP", "UPnP"), or None when none is held."""
        forward = self.forwarder.forward if self.forwarder is not None else None
        return forward.method if forward is not None else None

    async def start(self) -> None:
        if self.forwarder is None or self._task is not None:
            return
        await self.forwarder.open()
        self._task = asyncio.create_task(self.forwarder.keep(), name=f"nat1-portmap-{self.forwarder.request.name}")

    async def aclose(self, budget: float = CLOSE_BUDGET) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task, budget / 4)
        if self.forwarder is not None:
            await self.forwarder.close(budget)


@contextlib.asynccontextmanager
async def held(requests: Iterable[PortmapRequest | None]) -> AsyncIterator[list[ServiceForward]]:
    """Open several forwards at once (``-t``: TCP and UDP of the test port) and delete them after."""
    forwards = [ServiceForward(request) for request in requests if request is not None]
    try:
        await asyncio.gather(*(forward.start() for forward in forwards))
        yield forwards
    finally:
        await asyncio.gather(*(forward.aclose() for forward in forwards))
