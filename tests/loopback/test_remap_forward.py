"""A remap never drops live forwarded connections (SPEC section 1), forward mode.

The whole service runs on loopback against the in-process fakes: a player's TCP
connection and UDP flow go through the forwarder to an echo server, the fake STUN
servers then report a NEW mapped address (and the keepalive connection breaks, as
it does when a NAT forgets its state), the keeper publishes the new mapping, and
the very same player connection / flow still carries data both ways, through the
same forwarder socket. For UDP the forwarder's socket is also the STUN socket:
STUN replies after the remap must still be taken out and never reach the game.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import cast

import pytest
import pytest_asyncio

from nat1_traversal.app import Service, run_service
from nat1_traversal.forward.tcp import TcpForwarder
from nat1_traversal.forward.udp import UdpForwarder
from nat1_traversal.model import Endpoint
from nat1_traversal.stun.codec import looks_like_stun
from tests.support.app_kit import FakePublisher, Fakes
from tests.support.keeper_kit import FAST, LO, OUTER_A, OUTER_B
from tests.support.util import free_port, wait_until

Addr = tuple[str, int]


async def _tcp_echo() -> tuple[asyncio.Server, list[Addr]]:
    """Echoes every byte until EOF; records where each upstream connection that carried
    data came from (the local service watch connects without sending anything)."""
    peers: list[Addr] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        try:
            while data := await reader.read(4096):
                if peer not in peers:
                    peers.append(peer)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, peers


class _UdpEcho(asyncio.DatagramProtocol):
    """The game server: echoes, and remembers everything it was sent and from where."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[tuple[bytes, Addr]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.received.append((data, addr))
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


class _Player(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.inbox.put_nowait(data)

    async def exchange(self, data: bytes) -> bytes:
        assert self.transport is not None
        self.transport.sendto(data)
        return await asyncio.wait_for(self.inbox.get(), 2)


@pytest_asyncio.fixture
async def stopper() -> AsyncIterator[list[tuple[asyncio.Event, asyncio.Task[int]]]]:
    """Runs that a test started; each is stopped (and must exit 0) at the end."""
    runs: list[tuple[asyncio.Event, asyncio.Task[int]]] = []
    yield runs
    for stop, task in runs:
        stop.set()
        assert await asyncio.wait_for(task, 2) == 0


def _start(service: Service, runs: list[tuple[asyncio.Event, asyncio.Task[int]]]) -> None:
    stop = asyncio.Event()
    runs.append((stop, asyncio.create_task(run_service(service.config, stop=stop, service=service))))


@pytest.mark.asyncio
@pytest.mark.parametrize("signal", ["keepalive_broken", "stun_only"])
async def test_tcp_remap_keeps_the_live_player_connection(
    fakes: Fakes,
    stopper: list[tuple[asyncio.Event, asyncio.Task[int]]],
    signal: str,
) -> None:
    echo, upstream_peers = await _tcp_echo()
    echo_port = int(echo.sockets[0].getsockname()[1])
    local = Endpoint(LO, free_port())
    config = fakes.config(type="tcp", local=local, remote=Endpoint(LO, echo_port))
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    _start(service, stopper)
    writer: asyncio.StreamWriter | None = None
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        assert publisher.items[0].outer == OUTER_A
        forwarder = service.forwarder
        assert isinstance(forwarder, TcpForwarder)
        bound = forwarder.bound
        reader, writer = await asyncio.open_connection("127.0.0.1", local.port)
        writer.write(b"before remap")
        assert await asyncio.wait_for(reader.readexactly(12), 2) == b"before remap"
        keepalive_connections = fakes.http[0].connections

        fakes.rule.outer = OUTER_B
        if signal == "keepalive_broken":
            fakes.http[0].drop_connections()  # what the NAT forgetting the mapping looks like
        await wait_until(lambda: len(publisher.items) == 2)
        assert publisher.items[1].outer == OUTER_B
        assert publisher.items[1].inner.port == local.port
        if signal == "keepalive_broken":
            # The keeper reconnected its keepalive from the shared port, next to the player.
            await wait_until(lambda: fakes.http[0].connections > keepalive_connections)

        # The same player connection carries data both ways after the remap ...
        for i in range(3):
            payload = f"after remap {i}".encode()
            writer.write(payload)
            assert await asyncio.wait_for(reader.readexactly(len(payload)), 2) == payload
        # ... over the same upstream connection, through the same listener.
        assert len(upstream_peers) == 1
        first_upstream = upstream_peers[0]
        assert service.forwarder is forwarder and forwarder.bound == bound
        assert forwarder.connections == 1
        # New players still get in at the same port.
        r2, w2 = await asyncio.open_connection("127.0.0.1", local.port)
        w2.write(b"new")
        assert await asyncio.wait_for(r2.readexactly(3), 2) == b"new"
        w2.close()
        assert len(upstream_peers) == 2 and upstream_peers[0] == first_upstream
    finally:
        if writer is not None:
            writer.close()
        echo.close()
    assert [m.outer for m in publisher.items] == [OUTER_A, OUTER_B]


@pytest.mark.asyncio
async def test_udp_remap_keeps_the_flow_and_still_intercepts_stun(
    fakes: Fakes,
    stopper: list[tuple[asyncio.Event, asyncio.Task[int]]],
) -> None:
    loop = asyncio.get_running_loop()
    echo_transport, game = await loop.create_datagram_endpoint(_UdpEcho, local_addr=("127.0.0.1", 0))
    echo_port = echo_transport.get_extra_info("sockname")[1]
    local = Endpoint(LO, free_port(socket.SOCK_DGRAM))
    config = fakes.config(type="udp", local=local, remote=Endpoint(LO, echo_port))
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    _start(service, stopper)
    player_transport, player = await loop.create_datagram_endpoint(_Player, remote_addr=("127.0.0.1", local.port))
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        forwarder = service.forwarder
        assert isinstance(forwarder, UdpForwarder)
        bound = forwarder.bound
        assert await player.exchange(b"before") == b"echo:before"
        session_source = game.received[-1][1]

        stun = fakes.stun_udp[0]
        fakes.rule.outer = OUTER_B
        await wait_until(lambda: len(publisher.items) == 2)
        assert publisher.items[1].outer == OUTER_B
        # Several more keepalive rounds after the remap, all through the forwarder socket.
        before = stun.requests
        await wait_until(lambda: stun.requests >= before + 4)

        for i in range(3):
            payload = f"after {i}".encode()
            assert await player.exchange(payload) == b"echo:" + payload
        # Same session (same upstream socket), same listening socket, nothing rebound.
        assert {addr for _data, addr in game.received} == {session_source}
        assert service.forwarder is forwarder and forwarder.bound == bound
        assert forwarder.sessions == 1
        # STUN left from the service port, and not one reply was forwarded to the game.
        assert {src[1] for src in stun.sources} == {local.port}
        assert not [data for data, _addr in game.received if looks_like_stun(data)]
        assert [data for data, _addr in game.received] == [b"before", b"after 0", b"after 1", b"after 2"]
    finally:
        player_transport.close()
        echo_transport.close()
    assert [m.outer for m in publisher.items] == [OUTER_A, OUTER_B]
