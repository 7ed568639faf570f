"""RFC 5780 behaviour discovery: the one implementation used by ``-t`` and by the keeper.

Mapping (section 4.3): after test I (a plain Binding to the primary address) the
same local port asks the server's alternate IP (test II) and its alternate IP and
port (test III), both taken from OTHER-ADDRESS (RFC 3489: CHANGED-ADDRESS). The same
mapped address every time: endpoint-independent; a new one per IP: address
dependent; per IP and port: address-and-port dependent (RFC 4787 section 4.1).

Filtering (section 4.4, UDP only): CHANGE-REQUEST asks the server to answer from
its other IP and port (the reply arrives: endpoint-independent), or only its other
port (arrives: address-dependent; neither: address-and-port dependent). **A reply
counts only if it really came from the address asked for**: a server that ignores
CHANGE-REQUEST answers from its primary address, and that says nothing about the
NAT, so it gives UNKNOWN, never "independent".

Order matters on one local port: the filtering tests must run before the mapping
tests send anything to the alternate IP, whose packets would open a restricted
filter for it and make the filtering test pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Protocol

from nat1_traversal.errors import Nat1Error, NetTimeout
from nat1_traversal.model import Endpoint, HostPort
from nat1_traversal.net import unmapped
from nat1_traversal.stun.transport import BindingResult, endpoint_of

log = logging.getLogger(__name__)

Address = tuple[str, int]


class MappingBehavior(Enum):
    EIM = "eim"  # endpoint-independent (RFC 4787 section 4.1)
    ADM = "adm"  # address-dependent
    APDM = "apdm"  # address-and-port-dependent
    DEPENDENT = "dependent"  # ADM or APDM: told apart only with an RFC 5780 server
    UNKNOWN = "unknown"


class FilteringBehavior(Enum):
    EIF = "eif"  # endpoint-independent (RFC 4787 section 5)
    ADF = "adf"
    APDF = "apdf"
    UNKNOWN = "unknown"


# A verdict and, when it is UNKNOWN, why (a message key).
MappingVerdict = tuple[MappingBehavior, "str | None"]
FilteringVerdict = tuple[FilteringBehavior, "str | None"]


class BindingRequester(Protocol):
    """Binding transactions from one unconnected socket (``StunDatagramClient``)."""

    async def request(
        self, server: Address, *, change_ip: bool = False, change_port: bool = False, timeout: float = 3.0
    ) -> BindingResult: ...


# One Binding from the port under test to ``server``; returns the mapped address.
MappedBy = Callable[[Address], Awaitable[Endpoint]]


def usable_other(other: Endpoint | None, server: Address) -> Endpoint | None:
    """A test I answer's OTHER-ADDRESS, if it really names another IP and port."""
    if other is None:
        return None
    primary = unmapped(endpoint_of(server))
    if unmapped(other).ip == primary.ip or other.port == primary.port:
        return None
    return unmapped(other)


async def filtering(
    client: BindingRequester, server: Address, *, timeout: float, first: BindingResult | None = None
) -> FilteringVerdict:
    """Filtering tests II and III (concurrently) after test I (``first``, or asked now)."""
    if first is None:
        try:
            first = await client.request(server, timeout=timeout)
        except Nat1Error as exc:
            log.debug("filtering test I to %s failed: %s", server, exc)
            return FilteringBehavior.UNKNOWN, "stun.nat.reason.no_answer"
    if first.other is None:
        return FilteringBehavior.UNKNOWN, "stun.nat.reason.no_rfc5780"
    other = usable_other(first.other, server)
    if other is None:
        return FilteringBehavior.UNKNOWN, "stun.nat.reason.bad_other_address"
    primary = unmapped(endpoint_of(server))

    async def probe(change_ip: bool) -> bool | None:
        """True: answered from the address asked for; False: nothing came; None: unusable."""
        expected = Endpoint(other.ip if change_ip else primary.ip, other.port)
        try:
            result = await client.request(server, change_ip=change_ip, change_port=True, timeout=timeout)
        except NetTimeout:
            return False
        except Nat1Error as exc:
            log.debug("CHANGE-REQUEST to %s refused: %s", server, exc)
            return None
        got = unmapped(result.reply_from)
        if got != expected:
            log.debug("CHANGE-REQUEST answer from %s, expected %s: the server ignores it", got, expected)
            return None
        return True

    both, port_only = await asyncio.gather(probe(True), probe(False))
    log.debug("filtering tests: change ip+port -> %s, change port -> %s", both, port_only)
    if both is True:
        return FilteringBehavior.EIF, None
    if both is None or port_only is None:
        return FilteringBehavior.UNKNOWN, "stun.nat.reason.change_request_ignored"
    if port_only:
        return FilteringBehavior.ADF, None
    return FilteringBehavior.APDF, None


async def filtering_over(
    client: BindingRequester,
    servers: Sequence[HostPort],
    resolve: Callable[[HostPort], Awaitable[Address]],
    *,
    timeout: float,
    tries: int = 3,
) -> FilteringVerdict:
    """``filtering`` with the first of up to ``tries`` servers that can tell (most public
    servers do not implement CHANGE-REQUEST; each try costs a round trip or a timeout)."""
    verdict: FilteringVerdict = (FilteringBehavior.UNKNOWN, "stun.nat.reason.no_answer")
    for server in list(servers)[:tries]:
        try:
            address = await resolve(server)
        except Nat1Error as exc:
            log.debug("filtering test: %s: %s", server, exc)
            continue
        verdict = await filtering(client, address, timeout=timeout)
        if verdict[0] is not FilteringBehavior.UNKNOWN:
            return verdict
        log.debug("filtering test: %s cannot tell (%s)", server, verdict[1])
    return verdict


async def mapping(mapped_by: MappedBy, server: Address, first: Endpoint, other: Endpoint | None) -> MappingVerdict:
    """Mapping tests II and III (concurrently) after test I, which mapped us to ``first``
    and named ``other`` (its OTHER-ADDRESS)."""
    other = usable_other(other, server)
    if other is None:
        return MappingBehavior.UNKNOWN, "stun.nat.reason.no_rfc5780"
    host = server[0]
    # A dual-stack socket reaches IPv4 through mapped addresses: ask the alternate the same way.
    alt_ip = f"::ffff:{other.ip}" if host.startswith("::ffff:") and other.ip.version == 4 else str(other.ip)
    try:
        second, third = await asyncio.gather(mapped_by((alt_ip, server[1])), mapped_by((alt_ip, other.port)))
    except Nat1Error as exc:
        log.debug("mapping tests II/III failed: %s", exc)
        return MappingBehavior.UNKNOWN, "stun.nat.reason.alternate_silent"
    log.debug("mapping: I %s, II %s, III %s", first, second, third)
    if second == first:
        if third == first:
            return MappingBehavior.EIM, None
        return MappingBehavior.APDM, None  # same IP, other port: a new mapping
    if third == second:
        return MappingBehavior.ADM, None
    return MappingBehavior.APDM, None
