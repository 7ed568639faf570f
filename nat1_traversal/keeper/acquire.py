"""Asking STUN servers for the service port's mapping, and deciding what they agree on.

Every answer is checked first (``sanity``): an impossible or private address is the
server's failure, never a mapping. Then:

* two servers agree: that is the mapping;
* they differ: the first is asked again; agreeing now with the second means the
  mapping changed in between. Otherwise a third server decides: agreeing with one of
  them makes the other the outlier (a lying or proxied server, skipped from now on);
  a third different answer means a mapping per destination, a symmetric NAT;
* one server alone (the only one configured, or the only one answering): when it
  names an OTHER-ADDRESS, the RFC 5780 mapping test (``stun.probe``, the one ``-t``
  uses) asks that address from the service port too, so a symmetric NAT is told
  apart from a full cone with a single server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from nat1_traversal.errors import NetworkError, ProtocolError
from nat1_traversal.i18n import t
from nat1_traversal.keeper.sanity import mapping_problem
from nat1_traversal.keeper.types import Answer, MappingPath, NatUnusable
from nat1_traversal.model import Endpoint, HostPort, Mapping
from nat1_traversal.stun import probe
from nat1_traversal.stun.client import ServerList
from nat1_traversal.stun.probe import MappingBehavior

log = logging.getLogger(__name__)

_DEPENDENT = (MappingBehavior.ADM, MappingBehavior.APDM, MappingBehavior.DEPENDENT)


class Acquirer:
    """STUN questions from the service port (through ``path``) and what they prove."""

    def __init__(self, path: MappingPath, servers: ServerList) -> None:
        self._path = path
        self.servers = servers
        self._warned: set[tuple[HostPort, Endpoint]] = set()

    async def answer(self, server: HostPort) -> Answer | None:
        """One checked answer of ``server``; None (and the server goes last) otherwise."""
        try:
            answer = await self._path.binding(server)
        except (NetworkError, ProtocolError) as exc:
            log.debug("STUN %s failed: %s", server, exc)
            self.servers.mark_bad(server)
            return None
        problem = mapping_problem(answer.mapping)
        if problem is not None:
            self._reject(server, answer.mapping.outer, t(problem))
            return None
        self.servers.mark_good(server)
        log.debug("STUN %s: %s", server, answer.mapping.outer)
        return answer

    async def ask(self, server: HostPort) -> Mapping | None:
        answer = await self.answer(server)
        return None if answer is None else answer.mapping

    def _reject(self, server: HostPort, outer: Endpoint, reason: str) -> None:
        self.servers.mark_bad(server)
        if (server, outer) in self._warned:  # once per server and address, not every recheck
            log.debug("STUN %s: %s rejected again (%s)", server, outer, reason)
            return
        self._warned.add((server, outer))
        log.warning(t("keeper.bad_answer", server=str(server), addr=str(outer), reason=reason))

    async def recheck(self) -> Mapping | None:
        """The mapping the first server that answers sees now."""
        for server in self.servers.ordered():
            mapping = await self.ask(server)
            if mapping is not None:
                return mapping
        return None

    async def acquire(self, before_alternate: Callable[[], Awaitable[None]] | None = None) -> Mapping:
        """The mapping of the service port, confirmed as well as the servers allow.

        ``before_alternate`` runs before anything is sent to a server's alternate
        address from the service port (the filtering test must come first there:
        those packets would open a restricted filter, RFC 5780 section 4.4).
        """
        order = self.servers.ordered()
        answers: list[tuple[HostPort, Answer]] = []
        asked = 0
        for server in order:
            asked += 1
            answer = await self.answer(server)
            if answer is not None:
                answers.append((server, answer))
                if len(answers) == 2:
                    break
        if not answers:
            raise NetworkError("keeper.no_stun_answer", count=len(self.servers))
        if len(answers) == 1:
            await self._confirm_alone(answers[0][1], before_alternate)
            return answers[0][1].mapping
        (first_server, first), (second_server, second) = answers
        if first.mapping.outer == second.mapping.outer:
            return first.mapping
        again = await self.ask(first_server)
        if again is None:
            raise NetworkError("keeper.unstable", first=str(first.mapping.outer), second=str(second.mapping.outer))
        if again.outer == second.mapping.outer:
            return second.mapping  # the mapping changed between the two questions
        return await self._third_opinion(order[asked:], (first_server, again), (second_server, second.mapping))

    async def _third_opinion(
        self, rest: list[HostPort], first: tuple[HostPort, Mapping], second: tuple[HostPort, Mapping]
    ) -> Mapping:
        """Two servers keep disagreeing: the next one that answers decides."""
        for server in rest:
            third = await self.ask(server)
            if third is None:
                continue
            for (agreeing, mapping), (outlier, odd) in ((first, second), (second, first)):
                if third.outer == mapping.outer:
                    self._reject(outlier, odd.outer, t("keeper.bad.outlier", agreed=str(mapping.outer)))
                    log.debug("STUN %s and %s agree on %s", agreeing, server, mapping.outer)
                    return mapping
            # Three servers, three answers: a mapping per destination (RFC 4787 4.1).
            raise NatUnusable("keeper.symmetric", first=str(first[1].outer), second=str(second[1].outer))
        a, b = first[1].outer, second[1].outer
        if a.ip != b.ip:
            # RFC 4787 REQ-2: a NAT uses one external IP for all mappings of an internal
            # address ("paired" pooling). Two IPs and no third server to ask: one of them
            # is wrong (a lying server, a proxy), which is no reason to give up on the NAT.
            raise NetworkError("keeper.disagree", first=str(a), second=str(b))
        # Same IP, another port from each server: a mapping per destination.
        raise NatUnusable("keeper.symmetric", first=str(a), second=str(b))

    async def _confirm_alone(self, answer: Answer, before_alternate: Callable[[], Awaitable[None]] | None) -> None:
        """RFC 5780 mapping test through the only server's OTHER-ADDRESS (issue 12)."""
        if answer.server is None or probe.usable_other(answer.other, answer.server) is None:
            return
        if before_alternate is not None:
            await before_alternate()
        seen: list[Endpoint] = []

        async def mapped_by(address: tuple[str, int]) -> Endpoint:
            outer = (await self._path.binding(HostPort(address[0], address[1]))).mapping.outer
            seen.append(outer)
            return outer

        first = answer.mapping.outer
        verdict, reason = await probe.mapping(mapped_by, answer.server, first, answer.other)
        log.debug("mapping test through OTHER-ADDRESS: %s (%s)", verdict.value, reason)
        if verdict in _DEPENDENT:
            other = next((outer for outer in seen if outer != first), first)
            raise NatUnusable("keeper.symmetric", first=str(first), second=str(other))
