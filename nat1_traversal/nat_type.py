"""NAT type test (``-t``, SPEC section 6): RFC 4787 behaviours measured with RFC 5780.

Mapping (RFC 5780 section 4.3): Binding requests from one local port to the
server's primary address, to its alternate IP and to its alternate IP and port
(OTHER-ADDRESS / CHANGED-ADDRESS); without an alternate address, two servers with
different IPs tell endpoint-independent from dependent mapping, but not which kind
of dependent.

Filtering (section 4.4, UDP only): CHANGE-REQUEST asks the server to answer from
its other IP and port (reply arrives: endpoint-independent), or only its other port
(arrives: address-dependent; neither: address-and-port-dependent). A reply counts
only if it really came from the address asked for, so a server that ignores
CHANGE-REQUEST can never make us say FULL CONE. The filtering probes run before the
mapping probes touch the alternate IP, which would open a restricted-cone filter.

TCP filtering cannot be measured with STUN: the server would have to open a new
connection to us from another address, which RFC 5780 does not offer over TCP. For
an endpoint-independent TCP mapping the test therefore listens on the test port and
runs the reachability checks of SPEC section 13 (``reach.listen``): FULL CONE only
when a check reached the listener, a restricted name when a checker proves the port
unreachable, else UNKNOWN (never a guessed FULL CONE).

Shared port (``-l :PORT`` while a service holds it): the mapping probes use
sockets ``connect()``ed to each server address, so the kernel hands their replies
to us and not to the service; replies to CHANGE-REQUEST come from addresses we
cannot connect to, so filtering is measured from a fresh port (filtering is a
policy of the NAT, not of one port).

The classification (``classify``) is a pure function of the behaviours.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from nat1_traversal.config import Config
from nat1_traversal.errors import Nat1Error, NetTimeout, NetworkError
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint, HostPort, Mapping, Proto
from nat1_traversal.net import any_endpoint, local_endpoint, resolve, reuse_socket
from nat1_traversal.portmap.service import held, request_for
from nat1_traversal.reach.checkers import Checker
from nat1_traversal.reach.listen import InboundCheck, tcp_inbound
from nat1_traversal.reach.proxy import disagreeing, warn_disagreement, warn_fake_ips
from nat1_traversal.reach.settings import checkers_for
from nat1_traversal.stun import probe
from nat1_traversal.stun.client import ServerList, first_answer
from nat1_traversal.stun.probe import FilteringBehavior, MappingBehavior
from nat1_traversal.stun.transport import (
    BindingResult,
    StunDatagramProtocol,
    open_stun_datagram,
    tcp_binding,
    udp_binding,
)

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0  # one mapping probe; retransmits at 0.5 s and 1.5 s (transport.INITIAL_RTO)
FILTER_TIMEOUT = 2.0  # how long a filtered reply is waited for


@dataclass(frozen=True, slots=True)
class Behaviors:
    """What was measured for one protocol; ``*_reason`` are message keys."""

    reached: bool
    open_internet: bool = False
    mapping: MappingBehavior = MappingBehavior.UNKNOWN
    filtering: FilteringBehavior = FilteringBehavior.UNKNOWN
    port_preserved: bool | None = None
    mapping_reason: str | None = None
    filtering_reason: str | None = None
    mapped: Endpoint | None = None
    inbound: InboundCheck | None = None  # TCP: the listener check (reach.listen)
    second_mapped: Endpoint | None = None  # a second server's answer (no RFC 5780 here)


@dataclass(frozen=True, slots=True)
class NatType:
    """``number`` 0-4 (NAT0 open internet ... NAT4 symmetric); ``None`` when unknown."""

    number: int | None
    name: str
    reason: str | None = None  # message key, for UNKNOWN

    def line(self, proto: Proto) -> str:
        if self.number is None:
            return f"{proto.upper()}: UNKNOWN ({t(self.reason or 'stun.nat.reason.unknown')})"
        return f"{proto.upper()}: {self.name} (NAT{self.number})"


OPEN_INTERNET = NatType(0, "OPEN INTERNET")
FULL_CONE = NatType(1, "FULL CONE")
RESTRICTED_CONE = NatType(2, "RESTRICTED CONE")
PORT_RESTRICTED_CONE = NatType(3, "PORT RESTRICTED CONE")
SYMMETRIC = NatType(4, "SYMMETRIC")

_BY_FILTERING = {
    FilteringBehavior.EIF: FULL_CONE,
    FilteringBehavior.ADF: RESTRICTED_CONE,
    FilteringBehavior.APDF: PORT_RESTRICTED_CONE,
}


def classify(behaviors: Behaviors) -> NatType:
    """RFC 4787 behaviours -> the classic RFC 3489 name. Never guesses FULL CONE."""
    if not behaviors.reached:
        return NatType(None, "UNKNOWN", "stun.nat.reason.unreachable")
    if behaviors.open_internet:
        return OPEN_INTERNET
    if behaviors.mapping in (MappingBehavior.ADM, MappingBehavior.APDM, MappingBehavior.DEPENDENT):
        return SYMMETRIC
    if behaviors.mapping is MappingBehavior.UNKNOWN:
        return NatType(None, "UNKNOWN", behaviors.mapping_reason or "stun.nat.reason.mapping_unknown")
    if behaviors.filtering in _BY_FILTERING:
        return _BY_FILTERING[behaviors.filtering]
    return NatType(None, "UNKNOWN", behaviors.filtering_reason or "stun.nat.reason.filtering_unknown")


# --- probes ---------------------------------------------------------------------------------------------


class _SharedUdp:
    """All probes from one unconnected socket; replies told apart by transaction id."""

    def __init__(self, protocol: StunDatagramProtocol, local: Endpoint) -> None:
        self.client = protocol.client
        self.local = local

    async def bind(
        self, server: tuple[str, int], *, change_ip: bool = False, change_port: bool = False,
        timeout: float = PROBE_TIMEOUT,
    ) -> BindingResult:  # fmt: skip
        return await self.client.request(
            server, change_ip=change_ip, change_port=change_port, timeout=timeout
        )


@contextlib.asynccontextmanager
async def _shared_udp(local: Endpoint) -> AsyncIterator[_SharedUdp]:
    transport, protocol = await open_stun_datagram(local)
    try:
        yield _SharedUdp(protocol, local_endpoint(transport.get_extra_info("socket")))
    finally:
        transport.close()


class _ConnectedUdp:
    """Each probe from its own socket on ``local``, ``connect()``ed to the server."""

    def __init__(self, local: Endpoint) -> None:
        self.local = local

    async def bind(self, server: tuple[str, int], *, timeout: float = PROBE_TIMEOUT) -> BindingResult:
        return await udp_binding(self.local, server, connected=True, timeout=timeout)


class _Tcp:
    def __init__(self, local: Endpoint) -> None:
        self.local = local

    async def bind(self, server: tuple[str, int], *, timeout: float = PROBE_TIMEOUT) -> BindingResult:
        return await tcp_binding(self.local, server, timeout=timeout)


_Mapper = _SharedUdp | _ConnectedUdp | _Tcp


def _port_free(local: Endpoint) -> bool:
    """True when no other socket holds ``local`` for UDP (probe bind without reuse options).

    Raises ``NetworkError`` when ``local`` cannot be bound at all (not an address of this host).
    """
    probe = socket.socket(socket.AF_INET6 if local.family_v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(local.sockaddr())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise NetworkError("stun.bind_failed", local=str(local), kind="udp", error=exc.strerror or exc) from exc
    finally:
        probe.close()
    return True


def _source_ip(server: tuple[str, int]) -> Endpoint | None:
    """Which local IP the kernel would send to ``server`` from (UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(server)
        except OSError:
            return None
        return local_endpoint(probe)


def _is_open(result: BindingResult, local: Endpoint, server: tuple[str, int]) -> bool:
    if result.mapped.port != local.port:
        return False
    if not local.ip.is_unspecified:
        return result.mapped.ip == local.ip
    source = _source_ip(server)
    return source is not None and result.mapped.ip == source.ip


async def _first(
    mapper: _Mapper, servers: ServerList, kind: Proto, family: int, exclude_ip: str | None = None
) -> tuple[BindingResult, tuple[str, int]]:
    """The first server that answers (optionally: one whose IP is not ``exclude_ip``)."""
    addresses: dict[HostPort, tuple[str, int]] = {}

    async def attempt(server: HostPort) -> BindingResult:
        try:
            address = await asyncio.wait_for(resolve(server, kind, family), PROBE_TIMEOUT)
        except asyncio.TimeoutError as exc:  # on 3.10 not an OSError: first_answer would re-raise it
            raise NetTimeout("stun.timeout", server=str(server), timeout=PROBE_TIMEOUT) from exc
        if address[0] == exclude_ip:
            raise NetTimeout("stun.same_server", server=str(server))
        addresses[server] = address
        return await mapper.bind(address)

    result, server = await first_answer(servers, attempt)
    return result, addresses[server]


async def _measure(
    kind: Proto, mapper: _Mapper, filterer: _SharedUdp | None, exclusive: bool, servers: ServerList
) -> Behaviors:
    family = socket.AF_INET6 if mapper.local.family_v6 else socket.AF_INET
    try:
        first, server = await _first(mapper, servers, kind, family)
    except Nat1Error as exc:
        log.debug("%s: no STUN server answered: %s", kind, exc)
        return Behaviors(reached=False)
    local = first.local if first.local is not None else mapper.local
    open_internet = _is_open(first, local, server)
    mapping: MappingBehavior = MappingBehavior.UNKNOWN
    mapping_reason: str | None = None
    second_mapped: Endpoint | None = None
    filter_server = server if first.other is not None else None
    if first.other is None:
        # No RFC 5780 here: compare with a second server at another IP.
        try:
            second, other_server = await _first(mapper, servers, kind, family, exclude_ip=server[0])
        except Nat1Error:
            mapping_reason = "stun.nat.reason.one_server"
        else:
            mapping = MappingBehavior.EIM if second.mapped == first.mapped else MappingBehavior.DEPENDENT
            filter_server = other_server if second.other is not None else None
            second_mapped = second.mapped

    async def filtering_tests() -> tuple[FilteringBehavior, str | None]:
        if filterer is None:
            return FilteringBehavior.UNKNOWN, "stun.nat.reason.tcp_filtering"
        if filter_server is None:
            return FilteringBehavior.UNKNOWN, "stun.nat.reason.no_rfc5780"
        return await probe.filtering(filterer.client, filter_server, timeout=FILTER_TIMEOUT)

    async def mapped_by(address: tuple[str, int]) -> Endpoint:
        return (await mapper.bind(address)).mapped

    async def mapping_tests() -> tuple[MappingBehavior, str | None]:
        if first.other is None:
            return mapping, mapping_reason
        return await probe.mapping(mapped_by, server, first.mapped, first.other)

    if exclusive:
        # One socket for both: filtering first, before the alternate IP has been contacted
        # (that contact would open an address-restricted filter).
        filtering, filtering_reason = await filtering_tests()
        mapping, mapping_reason = await mapping_tests()
    else:
        (filtering, filtering_reason), (mapping, mapping_reason) = await asyncio.gather(
            filtering_tests(), mapping_tests()
        )
    return Behaviors(
        reached=True,
        open_internet=open_internet,
        mapping=mapping,
        filtering=filtering,
        port_preserved=first.mapped.port == local.port,
        mapping_reason=mapping_reason,
        filtering_reason=filtering_reason,
        mapped=first.mapped,
        second_mapped=second_mapped,
    )


async def measure_udp(servers: ServerList, local: Endpoint | None) -> Behaviors:
    exclusive = local is None or _port_free(local)
    bind_to = local if local is not None else any_endpoint()
    if exclusive:
        async with _shared_udp(bind_to) as shared:
            return await _measure("udp", shared, shared, True, servers)
    async with _shared_udp(any_endpoint(socket.AF_INET6 if bind_to.family_v6 else socket.AF_INET)) as fresh:
        return await _measure("udp", _ConnectedUdp(bind_to), fresh, False, servers)


@dataclass(frozen=True, slots=True)
class InboundPlan:
    """``-t``'s TCP listener check: the checkers, and whether to hairpin (config ``reach``)."""

    checkers: tuple[Checker, ...]
    hairpin: bool = True


async def measure_tcp(servers: ServerList, local: Endpoint | None, inbound: InboundPlan | None = None) -> Behaviors:
    bind_to = local if local is not None else any_endpoint()
    if bind_to.port == 0:
        # All probes must leave from one port: take an ephemeral one now and keep it.
        holder = reuse_socket("tcp", bind_to)
        try:
            port = local_endpoint(holder)
            return await _with_inbound(await _measure("tcp", _Tcp(port), None, False, servers), port, inbound)
        finally:
            holder.close()
    return await _with_inbound(await _measure("tcp", _Tcp(bind_to), None, False, servers), bind_to, inbound)


async def _with_inbound(behaviors: Behaviors, port: Endpoint, plan: InboundPlan | None) -> Behaviors:
    """An endpoint-independent TCP mapping: listen on ``port`` and run the checks."""
    if plan is None or behaviors.mapped is None or behaviors.open_internet:
        return behaviors
    if behaviors.mapping is not MappingBehavior.EIM or (not plan.checkers and not plan.hairpin):
        return behaviors
    mapping = Mapping("tcp", port, behaviors.mapped)
    check = await tcp_inbound(port, mapping, plan.checkers, hairpin=plan.hairpin)
    log.debug("-t TCP inbound check: %s", check)
    return replace(behaviors, inbound=check)


def with_tcp_verdict(tcp: Behaviors, udp: Behaviors) -> Behaviors:
    """The listener check turned into TCP filtering: reached = endpoint-independent;
    proven unreachable = restricted, as UDP says (address-dependent) or else port
    restricted; the TCP port of a NAT whose UDP is full cone is filtered all the same."""
    check = tcp.inbound
    if check is None:
        return tcp
    if check.result == "reached":
        return replace(tcp, filtering=FilteringBehavior.EIF, filtering_reason=None)
    if check.result == "unreachable":
        kind = FilteringBehavior.ADF if udp.filtering is FilteringBehavior.ADF else FilteringBehavior.APDF
        return replace(tcp, filtering=kind, filtering_reason=None)
    if check.reason is not None:
        return replace(tcp, filtering_reason=check.reason)
    return tcp


# --- report ---------------------------------------------------------------------------------------------

_MAPPING_KEYS = {
    MappingBehavior.EIM: "stun.nat.mapping.eim",
    MappingBehavior.ADM: "stun.nat.mapping.adm",
    MappingBehavior.APDM: "stun.nat.mapping.apdm",
    MappingBehavior.DEPENDENT: "stun.nat.mapping.dependent",
}
_FILTERING_KEYS = {
    FilteringBehavior.EIF: "stun.nat.filtering.eif",
    FilteringBehavior.ADF: "stun.nat.filtering.adf",
    FilteringBehavior.APDF: "stun.nat.filtering.apdf",
}


def behavior_lines(proto: Proto, behaviors: Behaviors) -> list[str]:
    """The RFC 4787 behaviours found, one per line (nothing when no server answered)."""
    if not behaviors.reached:
        return []
    name = proto.upper()
    lines = []
    if behaviors.mapped is not None:
        lines.append(t("stun.nat.mapped_line", proto=name, mapped=str(behaviors.mapped)))
    if behaviors.mapping in _MAPPING_KEYS:
        mapping = t(_MAPPING_KEYS[behaviors.mapping])
    else:
        mapping = t("stun.nat.unknown_because", reason=t(behaviors.mapping_reason or "stun.nat.reason.unknown"))
    lines.append(t("stun.nat.mapping_line", proto=name, behavior=mapping))
    if behaviors.filtering in _FILTERING_KEYS:
        filtering = t(_FILTERING_KEYS[behaviors.filtering])
    else:
        reason = t(behaviors.filtering_reason or "stun.nat.reason.unknown")
        filtering = t("stun.nat.unknown_because", reason=reason)
    lines.append(t("stun.nat.filtering_line", proto=name, behavior=filtering))
    if behaviors.port_preserved is not None:
        value = t("stun.nat.yes" if behaviors.port_preserved else "stun.nat.no")
        lines.append(t("stun.nat.port_preservation_line", proto=name, value=value))
    return lines


def advice_line(proto: Proto, behaviors: Behaviors, nat: NatType) -> str:
    name = proto.upper()
    if not behaviors.reached:
        return t("stun.nat.advice.unreachable", proto=name, key=f"stun_{proto}")
    if nat.number is None:
        if proto == "tcp" and behaviors.mapping is MappingBehavior.EIM:
            return t("stun.nat.advice.tcp_eim", proto=name)
        return t("stun.nat.advice.unknown", proto=name)
    return t(f"stun.nat.advice.nat{nat.number}", proto=name)


def inbound_lines(tcp: Behaviors) -> list[str]:
    check = tcp.inbound
    if check is None or tcp.mapped is None:
        return []
    lines = []
    if (check.hairpin_source is not None and check.result != "reached") or (
        check.result == "reached" and check.by != "hairpin" and check.hairpin_source is not None
    ):
        lines.append(t("reach.nat.hairpin_inner", source=check.hairpin_source))
    by = t("reach.by_hairpin") if check.by == "hairpin" else check.by
    if check.result == "reached":
        lines.append(t("reach.nat.tcp_reached", by=by, addr=str(tcp.mapped)))
    elif check.result == "unreachable":
        lines.append(t("reach.nat.tcp_unreachable", by=by, addr=str(tcp.mapped)))
    return lines


def render(tcp: Behaviors, udp: Behaviors) -> list[str]:
    """Everything ``-t`` prints: behaviours, the two result lines, advice."""
    tcp = with_tcp_verdict(tcp, udp)
    tcp_type, udp_type = classify(tcp), classify(udp)
    return [
        *behavior_lines("tcp", tcp),
        *inbound_lines(tcp),
        *behavior_lines("udp", udp),
        tcp_type.line("tcp"),
        udp_type.line("udp"),
        advice_line("tcp", tcp, tcp_type),
        advice_line("udp", udp, udp_type),
    ]


def _warn_if_proxied(tcp: Behaviors, udp: Behaviors) -> None:
    """Servers that disagree on the public IP while the mapping is endpoint-independent."""
    for behaviors in (tcp, udp):
        if behaviors.mapped is not None and behaviors.second_mapped is not None:
            pair = disagreeing([behaviors.mapped, behaviors.second_mapped])
            if pair is not None:
                warn_disagreement(*pair)
                return
    independent = tcp.mapping is MappingBehavior.EIM and udp.mapping is MappingBehavior.EIM
    if independent and tcp.mapped is not None and udp.mapped is not None and tcp.mapped.ip != udp.mapped.ip:
        warn_disagreement(tcp.mapped, udp.mapped)  # REQ-2 pairing holds across protocols too


async def run_nat_type_test(config: Config, local: Endpoint | None) -> int:
    """``-t``: measure TCP and UDP at once, print the report; exit code 0, or 1 when no
    STUN server at all could be reached."""
    udp_servers = ServerList(config.stun_udp)
    tcp_servers = ServerList(config.stun_tcp)
    # The STUN names only: -t contacts no keepalive server (the daemon checks those too).
    proxy_check = asyncio.ensure_future(warn_fake_ips([*config.stun_udp, *config.stun_tcp]))
    plan = InboundPlan(checkers_for(config.reach_check), hairpin=True) if config.reach else None
    # SPEC §14: `-t -l :PORT` opens the test port on the home router first, so a NAT3 made by the
    # router alone reads as FULL CONE once the forward is in place.
    forwards = [request_for(config, local, proto) for proto in ("tcp", "udp")] if local is not None else []
    try:
        async with held(forwards):
            tcp, udp = await asyncio.gather(measure_tcp(tcp_servers, local, plan), measure_udp(udp_servers, local))
        await proxy_check
    finally:
        proxy_check.cancel()
    _warn_if_proxied(tcp, udp)
    for line in render(tcp, udp):
        print(line)
    sys.stdout.flush()
    if not tcp.reached and not udp.reached:
        log.error("%s", t("stun.nat.no_server"))
        return 1
    return 0
