"""The ``-q`` family: ask Minecraft servers for their status and print SPEC section 7 lines.

Flow for one edition: parse the target, find candidate ``(host, port)`` pairs (explicit
port, else the ``_minecraft._tcp`` / ``_minecraft._udp`` SRV record, else the default
port), then for each address family in order (IPv6 first for ``-q``) resolve and ping
until one address answers. Java and Bedrock are asked at the same time and printed
Java first. Name resolution goes through dnspython's async resolver (or the loop's
``getaddrinfo`` for A/AAAA when none is given), so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dns.asyncresolver
import dns.exception
import dns.rdtypes.IN.SRV
import dns.resolver

from nat1_traversal.addr import AddressError, parse_optional_host_port
from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError, UsageError
from nat1_traversal.i18n import t
from nat1_traversal.minecraft import Edition, ServerStatus, bedrock_status, java_status
from nat1_traversal.model import IPAddress
from nat1_traversal.text import printable_json

log = logging.getLogger(__name__)

Kind = Literal["all", "java", "java6", "bedrock", "bedrock6"]
Family = Literal[4, 6]

JAVA_PORT = 25565
BEDROCK_PORT_V4 = 19132
BEDROCK_PORT_V6 = 19133  # Bedrock Dedicated Server's default "server-portv6"
LOOPBACK: dict[Family, IPAddress] = {4: ipaddress.IPv4Address("127.0.0.1"), 6: ipaddress.IPv6Address("::1")}
SRV_PREFIX: dict[Edition, str] = {"java": "_minecraft._tcp.", "bedrock": "_minecraft._udp."}
LABEL: dict[Edition, str] = {"java": "MCJE", "bedrock": "MCBE"}
MAX_ATTEMPTS = 6  # addresses tried per edition, over every family and SRV target


@dataclass(frozen=True, slots=True)
class QueryTarget:
    """What the user typed: ``host`` None means this machine; ``port`` None means SRV/default."""

    host: str | None
    port: int | None

    @property
    def literal(self) -> IPAddress | None:
        if self.host is None:
            return None
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class EditionPlan:
    edition: Edition
    families: tuple[Family, ...]
    default_ports: dict[Family, int]


def plans_for(kind: str) -> tuple[EditionPlan, ...]:
    java: dict[Family, int] = {4: JAVA_PORT, 6: JAVA_PORT}
    bedrock: dict[Family, int] = {4: BEDROCK_PORT_V4, 6: BEDROCK_PORT_V6}
    table: dict[str, tuple[EditionPlan, ...]] = {
        "all": (EditionPlan("java", (6, 4), java), EditionPlan("bedrock", (6, 4), bedrock)),
        "java": (EditionPlan("java", (4,), java),),
        "java6": (EditionPlan("java", (6,), java),),
        "bedrock": (EditionPlan("bedrock", (4,), bedrock),),
        "bedrock6": (EditionPlan("bedrock", (6,), bedrock),),
    }
    if kind not in table:
        raise ValueError(f"unknown query kind {kind!r}")
    return table[kind]


# --------------------------------------------------------------------------- target grammar


def parse_target(text: str | None) -> QueryTarget:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port``, bare v6, ``:port``/``port`` (this machine).

    The grammar is addr.py's (one for the whole program); a name comes back in ASCII.
    """
    if text is None:
        return QueryTarget(None, None)
    try:
        host, port = parse_optional_host_port(text)
    except AddressError:
        raise UsageError("mc.bad_target", target=text) from None
    return QueryTarget(host, port)


# --------------------------------------------------------------------------- SRV and names


def order_srv(
    records: Sequence[tuple[int, int, int, str]], rng: random.Random | None = None
) -> list[tuple[str, int]]:
    """RFC 2782 order of ``(priority, weight, port, target)``: lowest priority first,
    weighted random within a priority. A lone ``.`` target means "no service here"."""
    rng = rng or random.Random()
    ordered: list[tuple[str, int]] = []
    for priority in sorted({r[0] for r in records}):
        # RFC 2782: zero-weight records first, then pick by running sum of weights.
        group = sorted((r for r in records if r[0] == priority), key=lambda r: r[1] != 0)
        while group:
            total = sum(r[1] for r in group)
            pick = rng.randint(0, total)
            running, index = 0, 0
            for index, record in enumerate(group):  # noqa: B007 - index is the pick
                running += record[1]
                if running >= pick:
                    break
            chosen = group.pop(index)
            ordered.append((chosen[3], chosen[2]))
    return [(host, port) for host, port in ordered if host not in (".", "")]


async def _resolver(given: dns.asyncresolver.Resolver | None) -> dns.asyncresolver.Resolver | None:
    if given is not None:
        return given
    try:  # reading /etc/resolv.conf is file I/O: keep it off the loop
        return await asyncio.to_thread(dns.asyncresolver.Resolver)
    except dns.exception.DNSException as exc:
        log.debug("no system resolver for SRV lookups: %r", exc)
        return None


async def lookup_srv(
    name: str, edition: Edition, resolver: dns.asyncresolver.Resolver | None, timeout: float
) -> list[tuple[str, int]]:
    if resolver is None:
        return []
    owner = SRV_PREFIX[edition] + name.rstrip(".") + "."
    try:
        answer = await resolver.resolve(owner, "SRV", lifetime=timeout, search=False)
    except dns.exception.DNSException as exc:
        log.debug("SRV %s: %r", owner, exc)
        return []
    records = [
        (r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True))
        for r in answer
        if isinstance(r, dns.rdtypes.IN.SRV.SRV)
    ]
    ordered = order_srv(records)
    log.debug("SRV %s -> %s", owner, ordered)
    return ordered


async def resolve_host(
    host: str, family: Family, resolver: dns.asyncresolver.Resolver | None, timeout: float
) -> list[IPAddress]:
    """Addresses of ``host`` in one family; an empty list when there are none."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal] if literal.version == family else []
    if resolver is not None:
        try:
            answer = await resolver.resolve(host.rstrip(".") + ".", "AAAA" if family == 6 else "A",
                                            lifetime=timeout, search=False)
        except dns.exception.DNSException as exc:
            log.debug("resolve %s IPv%d: %r", host, family, exc)
            return []
        return [ipaddress.ip_address(r.address) for r in answer]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, family=socket.AF_INET6 if family == 6 else socket.AF_INET,
                             type=socket.SOCK_STREAM),
            timeout,
        )
    except (OSError, asyncio.TimeoutError) as exc:
        log.debug("resolve %s IPv%d: %r", host, family, exc)
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


# --------------------------------------------------------------------------- querying


async def query_edition(
    plan: EditionPlan,
    target: QueryTarget,
    *,
    timeout: float,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> ServerStatus | None:
    """First answer over the plan's families, or None (reasons at DEBUG)."""
    label = LABEL[plan.edition]
    candidates: list[tuple[str | None, int | None]] = [(target.host, target.port)]
    if target.host is not None and target.port is None and target.literal is None and target.host != "localhost":
        srv = await lookup_srv(target.host, plan.edition, await _resolver(resolver), timeout)
        if srv:
            candidates = [(host, port) for host, port in srv]
    attempts = 0
    for family in plan.families:
        for host, given_port in candidates:
            port = given_port or plan.default_ports[family]
            if host is None:
                addresses = [LOOPBACK[family]]
            else:
                addresses = await resolve_host(host, family, resolver, timeout)
            if not addresses:
                log.debug("%s: %s has no IPv%d address", label, host, family)
            for ip in addresses:
                if attempts >= MAX_ATTEMPTS:
                    return None
                attempts += 1
                try:
                    if plan.edition == "java":
                        # Proxies route on the name the user typed, not on the SRV target.
                        status = await java_status(ip, port, server_host=(target.host or str(ip)).rstrip("."),
                                                   timeout=timeout)
                    else:
                        status = await bedrock_status(ip, port, timeout=timeout)
                except (NetTimeout, NetworkError, ProtocolError) as exc:
                    log.debug("%s %s:%d (%s): %s", label, ip, port, exc.key, exc.fields.get("reason", ""))
                    continue
                log.debug("%s answered from %s port %d in %.0f ms", label, ip, port, status.latency_ms)
                return status
    return None


def format_line(edition: Edition, status: ServerStatus | None) -> str:
    if status is None:
        return f"{LABEL[edition]}: {t('mc.offline')}"
    # JSON escapes C0 controls; C1 ones (U+009B is a terminal's CSI) and U+2028/9 are escaped here.
    return f"{LABEL[edition]}: {printable_json(json.dumps(status.to_json(), ensure_ascii=False))}"


async def run_query(
    kind: str,
    target: str | None,
    *,
    timeout: float = 5.0,
    resolver: dns.asyncresolver.Resolver | None = None,
) -> int:
    """Print one line per edition of ``kind``; 0 whether or not anything answered.

    ``resolver`` (tests: one pointed at a local DNS server) is used for SRV, A and
    AAAA lookups; without it, SRV uses the system resolver and A/AAAA ``getaddrinfo``.
    Raises ``UsageError`` for a target that cannot be parsed.
    """
    plans = plans_for(kind)
    parsed = parse_target(target)
    results = await asyncio.gather(
        *(query_edition(plan, parsed, timeout=timeout, resolver=resolver) for plan in plans)
    )
    for plan, status in zip(plans, results, strict=True):
        print(format_line(plan.edition, status), flush=True)
    return 0
