"""``-t``'s listener check (reach.listen) on 127.0.0.1: FULL CONE only when a check really
reached the test port; a checker's bare "reachable" is not enough."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.reach.checkers import from_templates
from nat1_traversal.reach.listen import InboundCheck, tcp_inbound
from tests.support.keeper_kit import LO
from tests.support.util import free_port

Behaviour = Callable[[str, int], Awaitable[bytes]]


class Checker:
    """GET /check/<ip>/<port>: does what ``behaviour`` says, answers its body."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.port = 0
        self.server: asyncio.AbstractServer | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        _, _, ip, port = head.split(b" ", 2)[1].decode().split("/")
        body = await self.behaviour(ip, int(port))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    @property
    def template(self) -> str:
        return f"http://127.0.0.1:{self.port}/check/{{ip}}/{{port}}"


@pytest_asyncio.fixture
async def make_checker() -> AsyncIterator[Callable[[Behaviour], Awaitable[Checker]]]:
    made: list[Checker] = []

    async def make(behaviour: Behaviour) -> Checker:
        checker = Checker(behaviour)
        checker.server = await asyncio.start_server(checker._handle, "127.0.0.1", 0)
        checker.port = int(checker.server.sockets[0].getsockname()[1])
        made.append(checker)
        return checker

    yield make
    for checker in made:
        assert checker.server is not None
        checker.server.close()


async def connect_back(ip: str, port: int) -> bytes:
    _reader, writer = await asyncio.open_connection(ip, port)
    writer.close()
    return b"1"


async def just_say_yes(ip: str, port: int) -> bytes:
    return b"1"


async def say_no(ip: str, port: int) -> bytes:
    return b"0"


async def inbound(checker: Checker | None, *, hairpin: bool = False) -> InboundCheck:
    port = Endpoint(LO, free_port())
    mapping = Mapping("tcp", port, port)  # on loopback the "public" address is the port itself
    templates = (checker.template,) if checker is not None else ()
    return await tcp_inbound(port, mapping, from_templates(templates), hairpin=hairpin, hairpin_timeout=1)


@pytest.mark.asyncio
async def test_a_checker_that_connects_back_proves_it(make_checker: Callable[[Behaviour], Awaitable[Checker]]) -> None:
    checker = await make_checker(connect_back)
    check = await inbound(checker)
    assert (check.result, check.by) == ("reached", f"127.0.0.1:{checker.port}")


@pytest.mark.asyncio
async def test_a_bare_yes_is_not_full_cone(make_checker: Callable[[Behaviour], Awaitable[Checker]]) -> None:
    check = await inbound(await make_checker(just_say_yes))
    assert (check.result, check.reason) == ("unknown", "reach.nat.reason.claimed_not_seen")


@pytest.mark.asyncio
async def test_an_explicit_no_is_unreachable(make_checker: Callable[[Behaviour], Awaitable[Checker]]) -> None:
    assert (await inbound(await make_checker(say_no))).result == "unreachable"


@pytest.mark.asyncio
async def test_hairpin_from_the_public_address_proves_it() -> None:
    """On loopback our own connection arrives from 127.0.0.1, the mapping's IP here."""
    check = await inbound(None, hairpin=True)
    assert (check.result, check.by, check.hairpin_source) == ("reached", "hairpin", "127.0.0.1")


@pytest.mark.asyncio
async def test_nothing_to_ask_is_unknown() -> None:
    check = await inbound(None)
    assert (check.result, check.reason) == ("unknown", None)
