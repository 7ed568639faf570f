"""One round of reachability checks for a mapping: hairpin first, then the external checkers.

Hairpin: this host connects (TCP) or sends a Bedrock unconnected ping (mcbe) to its
own public ``ip:port``. Many NATs do not hairpin, so a failed hairpin proves
nothing. A hairpin that succeeds proves that the mapping exists and leads to the
service, but not that a stranger's packets pass the NAT's inbound filter: most
routers turn hairpin traffic around on their inside interface, where the filter
for the outside never looks at it. Hence the rule of the round:

    an explicit, trusted answer of an external checker decides;
    without one, a hairpin that worked counts as reachable;
    otherwise the result is unknown (None).

Only a checker's explicit answer can make a mapping *unreachable*.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from nat1_traversal.errors import Nat1Error, NetTimeout, NetworkError
from nat1_traversal.minecraft import bedrock_status
from nat1_traversal.model import Mapping
from nat1_traversal.reach.checkers import Checker, Verdict, read_reply, trusted
from nat1_traversal.reach.http import http_get

log = logging.getLogger(__name__)

# SPEC section 13: each checker gets at least 10 s (it connects back to us first).
CHECKER_TIMEOUT = 10.0
HAIRPIN_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """``reachable``: True / False / None (not known). ``by``: what decided it
    (``"hairpin"`` or the checker's host); ``hairpin``: None when not tried."""

    reachable: bool | None
    by: str = ""
    hairpin: bool | None = None
    checker_verdicts: tuple[tuple[str, Verdict], ...] = ()
    # (checker, ip): a checker that names the requester saw another public IP than the
    # mapping's: our requests leave elsewhere (a proxy, another line) - worth saying.
    elsewhere: tuple[str, str] | None = None


async def hairpin(service_type: str, mapping: Mapping, timeout: float = HAIRPIN_TIMEOUT) -> bool | None:
    """True when our own public ``ip:port`` answered; None when there is no probe
    for this type (a plain ``udp`` service: any datagram could mean anything)."""
    outer = mapping.outer
    try:
        if mapping.proto == "tcp":
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(str(outer.ip), outer.port), timeout)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        if service_type == "mcbe":
            await bedrock_status(outer.ip, outer.port, timeout=timeout)
            return True
    except (asyncio.TimeoutError, OSError, Nat1Error) as exc:
        log.debug("hairpin to %s failed: %r", outer, exc)
        return False
    return None


@dataclass(frozen=True, slots=True)
class Answers:
    """The checkers' round: the first trusted explicit answer (or None), what each said."""

    checker: Checker | None
    verdict: Verdict
    said: tuple[tuple[str, Verdict], ...]
    elsewhere: tuple[str, str] | None = None


async def ask_checkers(checkers: Sequence[Checker], mapping: Mapping, *, timeout: float = CHECKER_TIMEOUT) -> Answers:
    """The first trusted explicit answer, in list order."""
    family = socket.AF_INET6 if mapping.outer.ip.version == 6 else socket.AF_INET
    confirmed = False
    elsewhere: tuple[str, str] | None = None
    said: list[tuple[str, Verdict]] = []
    for checker in checkers:
        if mapping.proto not in checker.protos:
            continue
        url = checker.url(mapping)
        try:
            answer = await http_get(url, timeout=timeout, family=family)
        except (NetTimeout, NetworkError, Nat1Error) as exc:
            log.debug("reach checker %s: %s", checker.host, exc)
            said.append((checker.host, "unknown"))
            continue
        reply = read_reply(answer.status, answer.body)
        if reply.echoed_ip is not None and reply.echoed_ip == str(mapping.outer.ip):
            confirmed = True
        elif reply.echoed_ip is not None and elsewhere is None:
            elsewhere = (checker.host, reply.echoed_ip)
        verdict = trusted(checker, reply, mapping, confirmed)
        log.debug("reach checker %s: HTTP %d %r -> %s", checker.host, answer.status, answer.body[:80], verdict)
        said.append((checker.host, verdict))
        if verdict != "unknown":
            return Answers(checker, verdict, tuple(said), elsewhere)
    return Answers(None, "unknown", tuple(said), elsewhere)


async def check_round(
    service_type: str,
    mapping: Mapping,
    checkers: Sequence[Checker],
    *,
    checker_timeout: float = CHECKER_TIMEOUT,
    hairpin_timeout: float = HAIRPIN_TIMEOUT,
) -> Outcome:
    """Hairpin, then the checkers; combined by the rule in the module docstring."""
    looped = await hairpin(service_type, mapping, hairpin_timeout)
    answers = await ask_checkers(checkers, mapping, timeout=checker_timeout)
    said, elsewhere = answers.said, answers.elsewhere
    if answers.checker is not None:
        return Outcome(answers.verdict == "reachable", answers.checker.host, looped, said, elsewhere)
    if looped:
        return Outcome(True, "hairpin", looped, said, elsewhere)
    return Outcome(None, "", looped, said, elsewhere)
