"""A TCP service's filtering check runs from another port (STUN has no TCP filtering test), so it
cannot see the home router's forward of the service port. When that forward is held (UPnP/NAT-PMP/
PCP, SPEC §14), the keeper says so at INFO instead of warning NAT3.

Service level on loopback: the real keeper and its filtering hint against an RFC 5780 fake that
behaves port-restricted (it never answers CHANGE-REQUEST), and the service's router forward
replaced by one whose state says it is held (no router is ever contacted: ``upnp`` is false).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from nat1_traversal.app import Service
from nat1_traversal.model import Endpoint
from nat1_traversal.portmap.service import ServiceForward
from tests.support.app_kit import FakePublisher, Fakes, fakes
from tests.support.keeper_fakes import FakeStunUdp, close_rfc5780, start_rfc5780
from tests.support.keeper_kit import FAST, LO
from tests.support.util import free_port, hp, wait_until

__all__ = ["fakes"]  # the fixture


class HeldForward(ServiceForward):
    """The portmap state of a forward that PCP holds (opened by nobody: no router here)."""

    def __init__(self) -> None:
        super().__init__(None)

    @property
    def held_method(self) -> str | None:
        return "PCP"


@pytest_asyncio.fixture
async def port_restricted() -> AsyncIterator[FakeStunUdp]:
    primary = await start_rfc5780()
    primary.answer_change_ip = primary.answer_change_port = False  # filtering: address and port dependent
    yield primary
    close_rfc5780(primary)


async def first_mapping(service: Service, publisher: FakePublisher) -> None:
    await service.start()
    task = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: len(publisher.items) == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("held", [True, False], ids=["forward-held", "no-forward"])
async def test_a_held_router_forward_replaces_the_nat3_warning(
    fakes: Fakes, port_restricted: FakeStunUdp, caplog: pytest.LogCaptureFixture, held: bool
) -> None:
    caplog.set_level(logging.INFO)
    config = fakes.config(type="tcp", local=Endpoint(LO, free_port()), remote=Endpoint(LO, free_port()),
                          stun_udp=(hp(port_restricted.addr),))
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    if held:
        service.portmap = HeldForward()
    await first_mapping(service, publisher)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    if held:
        assert not any("NAT3" in w for w in warnings), warnings
        assert any(m.startswith("路由器上本服务端口的转发已由 PCP 打开") and "看不到这个转发" in m and "NAT3" in m
                   for m in infos), infos
    else:
        assert any("NAT3" in w and "端口转发" in w for w in warnings), warnings
        assert not any("转发已由" in m for m in infos)
