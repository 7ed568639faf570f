"""One forward's life on the home router (SPEC §14): open, renew, re-open, delete.

``async with hold(request) as forward:`` opens the forward (PCP, then NAT-PMP,
then UPnP IGD), renews it in a task it owns, and deletes it on the way out
within the shutdown budget. It logs the §14 lines; every failure is a log line,
never an exception: a router that will not help must not stop the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from nat1_traversal.config import UpnpMode
from nat1_traversal.errors import NetworkError, PortmapError, PortmapRefused
from nat1_traversal.i18n import t
from nat1_traversal.portmap import gateway as gateway_lookup
from nat1_traversal.portmap.clients import NatPmpMapper, PcpMapper, stable_nonce
from nat1_traversal.portmap.model import Forward, Method, Proto, is_private
from nat1_traversal.portmap.upnp import UpnpMapper

log = logging.getLogger(__name__)

DEFAULT_LIFETIME = 3600  # requested; renewal follows what the router grants
CLOSE_BUDGET = 2.5  # SPEC §14: deleted within at most 3 s of the stop
# After a failure: ask again soon (a router that was booting), then every five minutes at most.
RETRY_DELAYS = (2.0, 5.0, 15.0, 60.0, 300.0)


class Mapper(Protocol):
    method: Method
    lost: bool
    external_ip: ipaddress.IPv4Address | None
    deadline: float

    async def open(self, lifetime: int) -> Forward: ...
    async def renew(self, lifetime: int) -> Forward: ...
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PortmapRequest:
    """Forward ``proto``/``port`` of this host (external port = internal port)."""

    name: str
    proto: Proto
    port: int
    mode: UpnpMode = "auto"
    gateway: ipaddress.IPv4Address | None = None
    lifetime: int = DEFAULT_LIFETIME
    deadline: float = 1.5  # per protocol attempt: a silent network costs at most ~5 s at start

    @property
    def description(self) -> str:
        return f"nat1_traversal {self.name}"


@dataclass(slots=True)
class PortmapState:
    """What the status API shows: who holds the forward and when it renews (wall clock)."""

    method: Method | None = None
    gateway: str | None = None
    external_ip: str | None = None
    lifetime: int | None = None
    renews_at: float | None = None
    error: str | None = None
    opened: int = 0
    renewals: int = 0
    history: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method, "gateway": self.gateway, "lifetime": self.lifetime,
            "renews_at": self.renews_at, "error": self.error,
        }  # fmt: skip


class PortForwarder:
    def __init__(
        self,
        request: PortmapRequest,
        *,
        clock: Callable[[], float] = time.time,
        on_state: Callable[[PortmapState], None] | None = None,
    ) -> None:
        self.request = request
        self._on_state = on_state
        self.state = PortmapState()
        self.forward: Forward | None = None
        self._mapper: Mapper | None = None
        self._clock = clock
        self._said_double_nat = False
        self._warned = False

    def _report(self) -> None:
        if self._on_state is not None:
            self._on_state(self.state)

    # --- opening ------------------------------------------------------------------------------------

    def _gateway(self) -> ipaddress.IPv4Address | None:
        return self.request.gateway or gateway_lookup.default_gateway()

    def _mappers(self, gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address) -> list[Mapper]:
        req = self.request
        nonce = stable_nonce(req.name, req.proto, req.port, own)
        return [
            PcpMapper(gateway, own, req.proto, req.port, nonce=nonce, deadline=req.deadline),
            NatPmpMapper(gateway, own, req.proto, req.port, deadline=req.deadline),
            UpnpMapper(gateway, own, req.proto, req.port, description=req.description, deadline=req.deadline),
        ]

    async def open(self) -> Forward | None:
        """Try every protocol once; log the outcome as SPEC §14 says. ``None`` when nothing opened."""
        req = self.request
        gateway = self._gateway()
        if gateway is None:
            self._fail(t("portmap.no_gateway"), refused=False, gateway="-")
            return None
        try:
            own = gateway_lookup.own_address(gateway)
        except OSError as exc:
            self._fail(t("portmap.unreachable", gateway=gateway, error=exc.strerror or exc), refused=False,
                       gateway=gateway)  # fmt: skip
            return None
        refusals: list[PortmapRefused] = []
        silent: list[str] = []
        for mapper in self._mappers(gateway, own):
            try:
                if isinstance(mapper, UpnpMapper):
                    await self._remove_stale(mapper)
                forward = await mapper.open(req.lifetime)
            except PortmapRefused as exc:
                log.debug("%s: %s", mapper.method, exc)
                refusals.append(exc)
                continue
            except (NetworkError, PortmapError, OSError) as exc:
                log.debug("%s: %s", mapper.method, exc)
                silent.append(f"{mapper.method}: {exc}")
                continue
            if forward.external_port != req.port:
                await self._quiet(mapper.close())
                refusals.append(PortmapRefused("portmap.refused", method=mapper.method, code=0,
                                               reason_key="portmap.upnp.other_port", got=forward.external_port,
                                               port=req.port))  # fmt: skip
                continue
            self._opened(mapper, forward)
            return forward
        if refusals:
            await self._refused(gateway, refusals)
        else:
            text = t("portmap.nothing_answered", gateway=gateway) + " (" + "; ".join(silent) + ")"
            self._fail(text, refused=False, gateway=gateway)
        return None

    async def _remove_stale(self, mapper: UpnpMapper) -> None:
        with contextlib.suppress(PortmapRefused):
            if await mapper.remove_stale():
                log.info(t("portmap.stale_removed", proto=self.request.proto.upper(), port=self.request.port,
                           description=self.request.description))  # fmt: skip

    def _opened(self, mapper: Mapper, forward: Forward) -> None:
        self._mapper, self.forward = mapper, forward
        self._warned = False
        state = self.state
        state.method, state.gateway, state.error = forward.method, str(forward.gateway), None
        state.external_ip = str(forward.external_ip) if forward.external_ip else None
        state.lifetime = forward.lifetime
        state.renews_at = self._clock() + self._renew_delay(forward) if forward.lifetime else None
        state.opened += 1
        self._report()
        log.info(t("portmap.opened", method=forward.method, gateway=forward.gateway,
                   proto=forward.proto.upper(), port=forward.external_port))  # fmt: skip
        if forward.external_ip is not None and is_private(forward.external_ip) and not self._said_double_nat:
            self._said_double_nat = True
            log.info(t("portmap.double_nat", gateway=forward.gateway, external=forward.external_ip))

    async def _refused(self, gateway: ipaddress.IPv4Address, refusals: list[PortmapRefused]) -> None:
        reasons = "；".join(f"{r.method} {r.code}：{r.reason()}" for r in refusals)
        text = t("portmap.refused_warning", gateway=gateway, proto=self.request.proto.upper(),
                 port=self.request.port, method="/".join(r.method for r in refusals), reason=reasons)  # fmt: skip
        self._fail(text, refused=True, gateway=gateway)

    def _fail(self, text: str, *, refused: bool, gateway: object) -> None:
        self.state.error = text
        self._report()
        if not refused and self.request.mode == "auto":
            log.debug(text)
            return
        if not self._warned:
            self._warned = True
            if refused:
                log.warning(text)
            else:
                log.warning(t("portmap.failed", gateway=gateway, proto=self.request.proto.upper(),
                              port=self.request.port, error=text))  # fmt: skip

    # --- keeping ------------------------------------------------------------------------------------

    @staticmethod
    def _renew_delay(forward: Forward) -> float:
        # RFC 6887 §11.2.1: renew between 1/2 and 5/8 of the granted lifetime. Permanent (UPnP 725):
        # look again every half hour, in case the router lost it.
        return max(1.0, forward.lifetime / 2) if forward.lifetime else 1800.0

    async def keep(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Renew for ever (cancel to stop); re-open when the router lost or refused it."""
        failures = 0
        while True:
            forward, mapper = self.forward, self._mapper
            if forward is None or mapper is None:
                await sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])
                failures = 0 if await self.open() else failures + 1
                continue
            await sleep(self._renew_delay(forward))
            try:
                renewed = await mapper.renew(self.request.lifetime)
            except (NetworkError, PortmapError, OSError) as exc:
                log.debug("%s renewal: %s", mapper.method, exc)
                self.forward = self._mapper = None  # try everything again, from the start
                self.state.method = None
                self.state.renews_at = None
                self._report()
                failures = 1
                continue
            if mapper.lost:
                log.info(t("portmap.lost", gateway=renewed.gateway))
                self._opened(mapper, renewed)
                continue
            self.forward = renewed
            self.state.lifetime = renewed.lifetime
            self.state.renewals += 1
            self.state.renews_at = self._clock() + self._renew_delay(renewed) if renewed.lifetime else None
            self._report()
            log.debug(t("portmap.renewed", method=renewed.method, proto=renewed.proto.upper(),
                        port=renewed.external_port, lifetime=renewed.lifetime))  # fmt: skip

    # --- closing ------------------------------------------------------------------------------------

    async def close(self, budget: float = CLOSE_BUDGET) -> None:
        """Delete the forward (PCP: lifetime 0 with its nonce) within ``budget`` seconds."""
        forward, mapper = self.forward, self._mapper
        self.forward = self._mapper = None
        self.state.method = self.state.renews_at = None
        if forward is None or mapper is None:
            return
        self._report()
        mapper.deadline = budget
        args = {"gateway": forward.gateway, "proto": forward.proto.upper(), "port": forward.external_port}
        try:
            await asyncio.wait_for(mapper.close(), budget)
        except (NetworkError, PortmapError, OSError, asyncio.TimeoutError) as exc:
            log.warning(t("portmap.remove_failed", error=exc or "timeout", **args))
        else:
            log.info(t("portmap.removed", method=forward.method, **args))

    @staticmethod
    async def _quiet(action: Awaitable[None]) -> None:
        with contextlib.suppress(NetworkError, PortmapError):
            await action


@contextlib.asynccontextmanager
async def hold(request: PortmapRequest) -> AsyncIterator[PortForwarder]:
    """Open (when ``request.mode`` is not False), keep renewing, and delete on the way out."""
    forwarder = PortForwarder(request)
    if request.mode is False:
        yield forwarder
        return
    await forwarder.open()
    keeper = asyncio.create_task(forwarder.keep(), name=f"portmap-{request.name}")
    try:
        yield forwarder
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await forwarder.close()
