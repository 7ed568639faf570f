"""``-t``'s TCP verdict (SPEC section 13): listen on the test port and see whether a check gets in.

STUN cannot measure TCP filtering, so ``-t`` listens on the port it measured and
runs the reachability checks against its mapping:

* **Hairpin** (a connection from this host to its own public ``ip:port``) counts
  as proof of endpoint-independent filtering only when it arrives *from the NAT's
  public address*. Only then did the router turn it around as it treats a
  stranger's packet: source-translated to its outside address, from a port our
  test port never sent anything to, so a restricted filter would have dropped it.
  A hairpin that arrives from our inner address was turned around on the inside
  interface, where no outside filter looks: it proves the mapping exists and
  nothing about filtering.
* **An external checker** proves it only when its connection actually reached our
  listener (a "reachable" answer without one could be anything: a proxy, another
  host). An explicit "unreachable" from a trusted checker proves the port filtered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from nat1_traversal.errors import Nat1Error
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.net import reuse_socket
from nat1_traversal.reach.check import CHECKER_TIMEOUT, HAIRPIN_TIMEOUT
from nat1_traversal.reach.checkers import Checker, read_reply, trusted
from nat1_traversal.reach.http import http_get

log = logging.getLogger(__name__)

# How long a connection may take to show up at the listener after the checker answered.
ARRIVAL_GRACE = 0.5


@dataclass(frozen=True, slots=True)
class InboundCheck:
    """``result``: reached / unreachable / unknown; ``by``: "hairpin" or a checker host;
    ``reason``: a message key for unknown; ``hairpin_source``: who the hairpin came from."""

    result: Literal["reached", "unreachable", "unknown"]
    by: str = ""
    reason: str | None = None
    hairpin_source: str | None = None


class _Listener:
    """Accepts on the test port and remembers who connected (then closes at once)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.peers: list[str] = []
        self.arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._accept(), name="nat1-test-listener")

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, peer = await loop.sock_accept(self.sock)
            conn.close()
            host = str(peer[0])
            self.peers.append(host[7:] if host.startswith("::ffff:") else host)
            self.arrived.set()

    async def wait_for_new(self, seen: int, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.peers) <= seen:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self.arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.peers[seen:]

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sock.close()


async def tcp_inbound(
    port: Endpoint,
    mapping: Mapping,
    checkers: Sequence[Checker],
    *,
    hairpin: bool = True,
    hairpin_timeout: float = HAIRPIN_TIMEOUT,
    checker_timeout: float = CHECKER_TIMEOUT,
) -> InboundCheck:
    """Listen on ``port`` (the one whose mapping is ``mapping``) and run the checks."""
    sock = reuse_socket("tcp", port)
    sock.listen(16)
    sock.setblocking(False)
    listener = _Listener(sock)
    listener.start()
    try:
        return await _checks(
            listener, mapping, checkers,
            hairpin=hairpin, hairpin_timeout=hairpin_timeout, checker_timeout=checker_timeout,
        )  # fmt: skip
    finally:
        await listener.aclose()


async def _checks(
    listener: _Listener,
    mapping: Mapping,
    checkers: Sequence[Checker],
    *,
    hairpin: bool,
    hairpin_timeout: float,
    checker_timeout: float,
) -> InboundCheck:
    public_ip = str(mapping.outer.ip)
    hairpin_source: str | None = None
    if hairpin:
        seen = len(listener.peers)
        if await _connect(mapping.outer, hairpin_timeout):
            arrived = await listener.wait_for_new(seen, ARRIVAL_GRACE)
            if public_ip in arrived:
                return InboundCheck("reached", "hairpin", hairpin_source=public_ip)
            hairpin_source = arrived[0] if arrived else None
    claimed = False
    family = socket.AF_INET6 if mapping.outer.ip.version == 6 else socket.AF_INET
    confirmed = False
    for checker in checkers:
        if "tcp" not in checker.protos:
            continue
        seen = len(listener.peers)
        try:
            answer = await http_get(checker.url(mapping), timeout=checker_timeout, family=family)
        except Nat1Error as exc:
            log.debug("reach checker %s: %s", checker.host, exc)
            continue
        reply = read_reply(answer.status, answer.body)
        confirmed = confirmed or reply.echoed_ip == public_ip
        verdict = trusted(checker, reply, mapping, confirmed)
        arrived = await listener.wait_for_new(seen, ARRIVAL_GRACE if verdict == "reachable" else 0)
        log.debug("-t inbound: %s said %s, connections from %s", checker.host, verdict, arrived)
        if verdict == "reachable" and arrived:
            return InboundCheck("reached", checker.host, hairpin_source=hairpin_source)
        if verdict == "reachable":
            claimed = True
        elif verdict == "unreachable":
            return InboundCheck("unreachable", checker.host, hairpin_source=hairpin_source)
    reason = "reach.nat.reason.claimed_not_seen" if claimed else None
    return InboundCheck("unknown", reason=reason, hairpin_source=hairpin_source)


async def _connect(target: Endpoint, timeout: float) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(str(target.ip), target.port), timeout)
    except (asyncio.TimeoutError, OSError) as exc:
        log.debug("hairpin to %s failed: %r", target, exc)
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
