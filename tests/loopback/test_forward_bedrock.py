"""Bedrock's advertised port through the whole service (issue 12): in forward mode
the pongs a player sees name the public mapping's port, not the server's own."""

from __future__ import annotations

import asyncio
import socket

import pytest

from nat1_traversal.app import Service, run_service
from nat1_traversal.forward import UdpForwarder
from nat1_traversal.model import Endpoint
from tests.support import mcfakes
from tests.support.app_kit import FakePublisher, Fakes
from tests.support.keeper_kit import FAST, LO, OUTER_A
from tests.support.util import free_port, wait_until


def ping() -> bytes:
    return b"\x01" + (99).to_bytes(8, "big") + mcfakes.MAGIC + (7).to_bytes(8, "big")


@pytest.mark.asyncio
async def test_forward_mode_mcbe_advertises_the_mapped_port(fakes: Fakes) -> None:
    loop = asyncio.get_running_loop()
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(text=mcfakes.pong_string()))
    local = Endpoint(LO, free_port(socket.SOCK_DGRAM))
    config = fakes.config(type="mcbe", local=local, remote=Endpoint(LO, server.port))
    publisher = FakePublisher()
    stop = asyncio.Event()
    service = Service(config, timing=FAST, publisher=publisher)
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        assert isinstance(service.forwarder, UdpForwarder)
        assert service.forwarder.pong_port == OUTER_A.port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as player:
            player.settimeout(2)
            player.sendto(ping(), ("127.0.0.1", local.port))
            pong = await loop.run_in_executor(None, player.recv, 2048)
        length = int.from_bytes(pong[33:35], "big")
        assert len(pong) == 35 + length
        assert pong[35:].decode().split(";")[10:12] == [str(OUTER_A.port)] * 2
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        server.close()
