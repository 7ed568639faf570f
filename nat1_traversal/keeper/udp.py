"""UDP mapping path: every keepalive is a STUN Binding from the service port.

Shared-port mode (SPEC section 1): one socket per STUN server, bound to ``local``
with SO_REUSEPORT and ``connect()``ed to that server. Linux prefers a connected
socket over the unconnected ones of a reuse-port group, so the server's replies
come to us and never to the game server. Forward mode: the forwarder's listening
socket carries STUN too; replies are picked out by transaction id (intercept).

The RFC 5780 filtering test needs replies from the server's *other* address, which
a connected socket never receives: it runs on the forwarder socket (forward mode:
a certain answer for the service port) or on a throw-away socket (a hint).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Protocol

from nat1_traversal.i18n import t
from nat1_traversal.keeper.types import Answer, Filtering, HoldResult, KeeperTiming, Recheck
from nat1_traversal.model import Endpoint, HostPort, Mapping, Proto
from nat1_traversal.net import (
    Resolver,
    any_endpoint,
    family_of,
    is_dual_stack,
    local_endpoint,
    source_endpoint,
    unmapped,
)
from nat1_traversal.stun import probe
from nat1_traversal.stun.probe import FilteringBehavior
from nat1_traversal.stun.transport import StunDatagramClient, StunDatagramProtocol, open_stun_datagram

log = logging.getLogger(__name__)

# How many servers the filtering test tries before it gives up (most public servers
# do not implement CHANGE-REQUEST; each try costs one round trip when they answer).
FILTERING_SERVERS = 3

_VERDICT: dict[FilteringBehavior, Filtering] = {
    FilteringBehavior.EIF: "independent",
    FilteringBehavior.ADF: "address",
    FilteringBehavior.APDF: "port",
}

Intercept = Callable[[bytes, tuple[str, int]], bool]


class DatagramPort(Protocol):
    """A UDP socket someone else owns that lets us send and pick our replies out
    (forward mode: the forwarder's listening socket)."""

    @property
    def bound(self) -> Endpoint: ...

    def send(self, data: bytes, addr: tuple[str, int]) -> None: ...

    def set_intercept(self, intercept: Intercept | None) -> None: ...


class UdpPath:
    """``MappingPath`` for UDP services."""

    proto: Proto = "udp"

    def __init__(
        self,
        local: Endpoint,
        timing: KeeperTiming,
        *,
        port: DatagramPort | None = None,
        family: int = socket.AF_INET,
    ) -> None:
        self._local = local
        self._timing = timing
        self._port = port
        self._resolve = Resolver("udp", family, timing.resolve_ttl, dual_stack=is_dual_stack(local))
        # One connected socket per server name, for the address it resolves to now.
        self._connected: dict[HostPort, tuple[tuple[str, int], asyncio.DatagramTransport, StunDatagramProtocol]] = {}
        self._shared_client: StunDatagramClient | None = None
        if port is not None:
            self._shared_client = StunDatagramClient(port.send)
            port.set_intercept(self._shared_client.handle_datagram)

    async def prepare(self) -> None:
        return None

    async def _client_for(self, server: HostPort, addr: tuple[str, int]) -> tuple[StunDatagramClient, Endpoint]:
        if self._shared_client is not None:
            assert self._port is not None
            return self._shared_client, source_endpoint(self._port.bound, addr)
        entry = self._connected.get(server)
        if entry is None or entry[0] != addr or entry[1].is_closing():
            # A name that now resolves elsewhere (DNS round robin) must not leave its
            # old socket open: over weeks that would pile up file descriptors.
            if entry is not None:
                entry[1].close()
            transport, protocol = await open_stun_datagram(self._local, addr)
            entry = (addr, transport, protocol)
            self._connected[server] = entry
        _addr, transport, protocol = entry
        sock = transport.get_extra_info("socket")
        inner = local_endpoint(sock) if sock is not None else self._local
        return protocol.client, unmapped(inner)

    async def binding(self, server: HostPort) -> Answer:
        addr = await self._resolve(server)
        client, inner = await self._client_for(server, addr)
        result = await client.request(addr, timeout=self._timing.reply_timeout)
        return Answer(Mapping("udp", inner, result.mapped), result.other, addr)

    async def hold(self, mapping: Mapping, recheck: Recheck, alive: Callable[[], None]) -> HoldResult:
        healthy = False
        while True:
            await asyncio.sleep(self._timing.keepalive_interval)
            now = await recheck()
            if now is None:
                return HoldResult("keeper.reason.stun_silent", healthy)
            healthy = True
            alive()
            if now.outer != mapping.outer:
                return HoldResult("keeper.reason.changed", healthy)

    async def filtering(self, servers: Sequence[HostPort]) -> tuple[Filtering, bool] | None:
        """RFC 5780 section 4.4 from the service port (forward mode) or another port."""
        if self._shared_client is not None:
            verdict = await filtering_test(self._shared_client, servers, self._resolve, self._timing)
            return None if verdict is None else (verdict, True)
        verdict = await filtering_hint(
            servers, self._timing, family=family_of(self._local), dual_stack=is_dual_stack(self._local)
        )
        return None if verdict is None else (verdict, False)

    async def aclose(self) -> None:
        if self._port is not None:
            self._port.set_intercept(None)
        for _addr, transport, _protocol in self._connected.values():
            transport.close()
        self._connected.clear()


async def filtering_hint(
    servers: Sequence[HostPort],
    timing: KeeperTiming,
    *,
    family: int = socket.AF_INET,
    dual_stack: bool = False,
) -> Filtering | None:
    """The filtering test from a throw-away port: what the NAT most likely does to ours.

    ``dual_stack``: the service port is ``[::]``; the throw-away socket is bound to
    ``[::]`` too (dual-stack) and reaches IPv4 servers through mapped addresses."""
    transport, protocol = await open_stun_datagram(any_endpoint(family))
    try:
        resolver = Resolver("udp", family, 0.0, dual_stack=dual_stack)
        return await filtering_test(protocol.client, servers, resolver, timing)
    finally:
        transport.close()


async def filtering_test(
    client: StunDatagramClient,
    servers: Sequence[HostPort],
    resolve: Resolver,
    timing: KeeperTiming,
) -> Filtering | None:
    """Endpoint-independent / address-dependent / address-and-port-dependent, or None
    (no server could tell): ``stun.probe``'s test over the first servers that can."""
    behavior, reason = await probe.filtering_over(
        client, servers, resolve, timeout=timing.reply_timeout, tries=FILTERING_SERVERS
    )
    if behavior is FilteringBehavior.UNKNOWN:
        # Said, not refused: most public servers lack RFC 5780, and a full cone NAT
        # measured with them must keep working. Never guessed "independent" either.
        log.info(t("keeper.filtering_unknown", reason=t(reason or "stun.nat.reason.unknown")))
        return None
    return _VERDICT[behavior]
