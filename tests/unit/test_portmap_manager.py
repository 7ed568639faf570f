"""The port-forward manager's behaviour (SPEC §14) with scripted routers: log lines, renewals, deletes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

import pytest

from nat1_traversal.errors import NetTimeout, PortmapRefused
from nat1_traversal.portmap import gateway, manager, netio
from nat1_traversal.portmap.manager import Mapper, PortForwarder, PortmapRequest
from nat1_traversal.portmap.model import Forward, Method
from tests.support import portmap_guard
from tests.support.portmap_guard import PortmapGuardViolation

GW = ipaddress.IPv4Address("192.168.1.1")
OWN = ipaddress.IPv4Address("192.168.1.2")
Step = Callable[[int], Forward]


class ScriptedMapper:
    """A router that answers from a script: each call takes the next step (a Forward or an exception)."""

    def __init__(self, method: Method, steps: list[Forward | Exception], lost_after: int = -1) -> None:
        self.method: Method = method
        self.steps = steps
        self.lost = False
        self.external_ip: ipaddress.IPv4Address | None = None
        self.deadline = 1.0
        self.calls: list[tuple[str, int]] = []
        self.lost_after = lost_after

    def _next(self, what: str, lifetime: int) -> Forward:
        self.calls.append((what, lifetime))
        step = self.steps.pop(0) if self.steps else NetTimeout("portmap.timeout", gateway=GW, timeout=1, method="x")
        if isinstance(step, Exception):
            raise step
        self.lost = len(self.calls) == self.lost_after
        return step

    async def open(self, lifetime: int) -> Forward:
        return self._next("open", lifetime)

    async def renew(self, lifetime: int) -> Forward:
        return self._next("renew", lifetime)

    async def close(self) -> None:
        self.calls.append(("close", 0))


def forward(method: Method, lifetime: int = 120, external: str | None = "203.0.113.1", port: int = 25565) -> Forward:
    ext = ipaddress.IPv4Address(external) if external else None
    return Forward(method, GW, "tcp", 25565, port, lifetime, ext)


def timeout() -> NetTimeout:
    return NetTimeout("portmap.timeout", gateway=GW, timeout=1, method="PCP")


def refused(method: str, code: int, key: str) -> PortmapRefused:
    return PortmapRefused("portmap.refused", method=method, code=code, reason_key=key, description="ActionFailed")


class Scripted(PortForwarder):
    def __init__(self, request: PortmapRequest, mappers: list[ScriptedMapper]) -> None:
        super().__init__(request, clock=lambda: 1000.0)
        self.scripted = mappers

    def _mappers(self, gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address) -> list[Mapper]:
        return list(self.scripted)


@pytest.fixture(autouse=True)
def _lab_gateway(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(gateway, "own_address", lambda gw: OWN)
    caplog.set_level(logging.DEBUG, logger="nat1_traversal.portmap")


REQ = PortmapRequest("java", "tcp", 25565, gateway=GW)


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


@pytest.mark.asyncio
async def test_falls_through_to_upnp_and_logs_the_line_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nat1_traversal.portmap")
    pcp = ScriptedMapper("PCP", [timeout()])
    pmp = ScriptedMapper("NAT-PMP", [timeout()])
    upnp = ScriptedMapper("UPnP", [forward("UPnP")])
    got = await Scripted(REQ, [pcp, pmp, upnp]).open()
    assert got is not None and got.method == "UPnP"
    assert lines(caplog, logging.INFO) == ["已通过 UPnP 在路由器 192.168.1.1 上打开 TCP 端口 25565"]
    assert not lines(caplog, logging.WARNING)


@pytest.mark.asyncio
async def test_auto_is_quiet_when_nothing_answers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nat1_traversal.portmap")
    fwd = Scripted(REQ, [ScriptedMapper(m, [timeout()]) for m in ("PCP", "NAT-PMP", "UPnP")])
    assert await fwd.open() is None
    assert not lines(caplog, logging.INFO) and not lines(caplog, logging.WARNING)
    assert any("没有响应" in m for m in lines(caplog, logging.DEBUG))


@pytest.mark.asyncio
async def test_true_warns_when_nothing_answers(caplog: pytest.LogCaptureFixture) -> None:
    req = PortmapRequest("java", "tcp", 25565, mode=True, gateway=GW)
    fwd = Scripted(req, [ScriptedMapper(m, [timeout()]) for m in ("PCP", "NAT-PMP", "UPnP")])
    assert await fwd.open() is None
    (warning,) = lines(caplog, logging.WARNING)
    assert "192.168.1.1" in warning and "手动添加端口转发" in warning


@pytest.mark.asyncio
async def test_refusal_is_a_warning_with_every_reason_and_advice(caplog: pytest.LogCaptureFixture) -> None:
    mappers = [
        ScriptedMapper("PCP", [refused("PCP", 8, "portmap.pcp.no_resources")]),
        ScriptedMapper("NAT-PMP", [refused("NAT-PMP", 3, "portmap.natpmp.network_failure")]),
        ScriptedMapper("UPnP", [refused("UPnP", 501, "portmap.upnp.501")]),
    ]
    assert await Scripted(REQ, mappers).open() is None
    (warning,) = lines(caplog, logging.WARNING)
    assert warning.startswith("路由器 192.168.1.1 拒绝打开 TCP 端口 25565")
    for part in ("PCP 8", "NAT-PMP 3", "UPnP 501", "双重 NAT", "ActionFailed", "UPnP", "手动添加端口转发"):
        assert part in warning, part


@pytest.mark.asyncio
async def test_double_nat_said_once_at_info(caplog: pytest.LogCaptureFixture) -> None:
    pcp = ScriptedMapper("PCP", [forward("PCP", 2, external="10.0.0.2"), forward("PCP", 2, external="10.0.0.2")],
                         lost_after=2)  # fmt: skip
    fwd = Scripted(REQ, [pcp])
    await fwd.open()
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)
        if len(sleeps) > 1:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await fwd.keep(sleep)
    infos = lines(caplog, logging.INFO)
    assert sum("双重 NAT" in m for m in infos) == 1
    # the gateway lost it (epoch): the line again, after saying so
    assert sum(m.startswith("已通过 PCP") for m in infos) == 2
    assert any("重启" in m for m in infos)


@pytest.mark.asyncio
async def test_renewal_follows_the_granted_lifetime_not_the_requested() -> None:
    req = PortmapRequest("java", "tcp", 25565, gateway=GW, lifetime=3600)
    pcp = ScriptedMapper("PCP", [forward("PCP", 120), forward("PCP", 60), forward("PCP", 60)])
    fwd = Scripted(req, [pcp])
    await fwd.open()
    assert fwd.state.renews_at == 1000.0 + 60
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)
        if len(sleeps) > 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await fwd.keep(sleep)
    assert sleeps == [60.0, 30.0, 30.0]
    assert pcp.calls == [("open", 3600), ("renew", 3600), ("renew", 3600)]
    assert fwd.state.renewals == 2


@pytest.mark.asyncio
async def test_failed_renewal_starts_over_and_reopens(caplog: pytest.LogCaptureFixture) -> None:
    pcp = ScriptedMapper("PCP", [forward("PCP", 10), timeout(), timeout()])
    upnp = ScriptedMapper("UPnP", [forward("UPnP", 3600)])
    pmp = ScriptedMapper("NAT-PMP", [timeout()])
    fwd = Scripted(REQ, [pcp, pmp, upnp])
    await fwd.open()
    count = 0

    async def sleep(delay: float) -> None:
        nonlocal count
        count += 1
        if count > 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await fwd.keep(sleep)
    assert fwd.forward is not None and fwd.forward.method == "UPnP"
    assert [m for m in lines(caplog, logging.INFO) if m.startswith("已通过")] == [
        "已通过 PCP 在路由器 192.168.1.1 上打开 TCP 端口 25565",
        "已通过 UPnP 在路由器 192.168.1.1 上打开 TCP 端口 25565",
    ]


@pytest.mark.asyncio
async def test_another_external_port_is_not_kept() -> None:
    pcp = ScriptedMapper("PCP", [forward("PCP", port=40000)])
    fwd = Scripted(REQ, [pcp])
    assert await fwd.open() is None
    assert ("close", 0) in pcp.calls


@pytest.mark.asyncio
async def test_close_deletes_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    pcp = ScriptedMapper("PCP", [forward("PCP")])
    fwd = Scripted(REQ, [pcp])
    await fwd.open()
    await fwd.close()
    assert pcp.calls[-1] == ("close", 0)
    assert "已删除路由器 192.168.1.1 上的 TCP 端口 25565 转发（PCP）" in lines(caplog, logging.INFO)
    await fwd.close()  # a second close does nothing
    assert pcp.calls.count(("close", 0)) == 1


@pytest.mark.asyncio
async def test_close_keeps_its_budget() -> None:
    class Hanging(ScriptedMapper):
        async def close(self) -> None:
            await asyncio.sleep(30)

    fwd = Scripted(REQ, [Hanging("PCP", [forward("PCP")])])
    await fwd.open()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fwd.close(budget=0.2)
    assert loop.time() - started < 1.0


@pytest.mark.asyncio
async def test_hold_with_upnp_false_does_nothing() -> None:
    async with manager.hold(PortmapRequest("java", "tcp", 25565, mode=False)) as fwd:
        assert fwd.forward is None and fwd.state.method is None


def test_the_guard_refuses_the_real_gateway_and_other_hosts(request: pytest.FixtureRequest) -> None:
    with pytest.raises(PortmapGuardViolation):
        gateway.default_gateway()
    with pytest.raises(PortmapGuardViolation):
        netio.guard(("239.255.255.250", 1900))
    netio.guard(("127.0.0.1", 5351))
    assert portmap_guard.seen(request) == ["the real default gateway", "239.255.255.250:1900"]
    portmap_guard.seen(request).clear()  # seen and asserted: this test passes


@pytest.mark.asyncio
async def test_no_configured_gateway_asks_the_guarded_lookup(request: pytest.FixtureRequest) -> None:
    fwd = PortForwarder(PortmapRequest("java", "tcp", 25565))
    with pytest.raises(PortmapGuardViolation):
        await fwd.open()
    assert portmap_guard.seen(request) == ["the real default gateway"]
    portmap_guard.seen(request).clear()


def test_status_shows_method_gateway_and_renewal() -> None:
    from datetime import datetime, timezone

    from nat1_traversal.status.page import _portmap
    from nat1_traversal.status.registry import StatusRegistry
    from nat1_traversal.status.reporter import ServiceReporter

    registry = StatusRegistry("9.9.9")
    registry.add_service("java", type="mcje", proto="tcp", mode="forward", local="0.0.0.0:25565", remote=None,
                         dns_name=None)  # fmt: skip
    reporter = ServiceReporter(registry, "java")
    reporter.portmap("PCP", "192.168.1.1", datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc).timestamp(), None)
    status = registry.snapshot().services[0].status
    assert status.to_json()["portmap"] == {
        "method": "PCP", "gateway": "192.168.1.1", "renews": "2026-12-01T11:00:00Z", "error": None,
    }  # fmt: skip
    assert _portmap(status).startswith("PCP（路由器 192.168.1.1），")
    reporter.portmap(None, None, None, "路由器 192.168.1.1 拒绝打开 TCP 端口 25565")
    status = registry.snapshot().services[0].status
    assert _portmap(status) == "未打开：路由器 192.168.1.1 拒绝打开 TCP 端口 25565"
