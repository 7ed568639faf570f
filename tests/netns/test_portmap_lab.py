"""The home-router port mapper against a real miniupnpd, through the double-NAT lab (tests/lab/double.py).

host 192.168.1.2 → home gateway 192.168.1.1 (miniupnpd; drops unsolicited inbound)
→ carrier FULL CONE 203.0.113.1 → inet (coturn, players). Only lab addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from nat1_traversal.errors import PortmapRefused
from nat1_traversal.portmap import manager
from nat1_traversal.portmap.clients import NatPmpMapper, PcpMapper
from nat1_traversal.portmap.manager import PortForwarder, PortmapRequest
from nat1_traversal.portmap.model import Forward
from nat1_traversal.portmap.upnp import UpnpMapper
from nat1_traversal.stun import codec
from nat1_traversal.stun.codec import AttrType
from tests.lab import PLAYER_IPS, ROUTER_OUTSIDE_IP, STUN_PRIMARY
from tests.lab.double import DOUBLE_TOOLS, GATEWAY_LAN_IP, GATEWAY_WAN_IP, HOST_IP, DoubleNatLab, UpnpdOptions
from tests.support.ci import require_root_tools

pytestmark = [pytest.mark.netns, pytest.mark.portmap_lab]

GW = ipaddress.IPv4Address(GATEWAY_LAN_IP)
OWN = ipaddress.IPv4Address(HOST_IP)
T = TypeVar("T")
PRINTER_IP = "192.168.1.3"  # another UPnP device on the LAN, not the gateway


@pytest.fixture(scope="module")
def lab() -> Iterator[DoubleNatLab]:
    require_root_tools(*DOUBLE_TOOLS)
    with DoubleNatLab().build("fullcone", keep_ports=True) as built:
        yield built


@pytest.fixture
def upnpd(lab: DoubleNatLab) -> Iterator[DoubleNatLab]:
    lab.set_carrier(keep_ports=True)
    lab.start_upnpd(UpnpdOptions())
    try:
        yield lab
    finally:
        lab.stop_upnpd()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="nat1_traversal.portmap")


def in_host(lab: DoubleNatLab, coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the product's coroutine on a thread inside the host namespace."""
    return lab.call_in("host", lambda: asyncio.run(coro_factory()))


def port_of(lab: DoubleNatLab) -> int:
    return 40000 + secrets.randbelow(8000)


# --- reachability helpers ----------------------------------------------------------------------------


def udp_reached_from_player(lab: DoubleNatLab, port: int) -> bool:
    """The host learns its carrier mapping by STUN from ``port``; does a player's datagram arrive there?"""
    home = lab.socket("host", socket.AF_INET, socket.SOCK_DGRAM)
    player = lab.socket("inet", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        home.bind(("0.0.0.0", port))
        home.settimeout(2)
        tid = secrets.token_bytes(12)
        home.sendto(codec.binding_request(tid), STUN_PRIMARY)
        data, _ = home.recvfrom(2048)
        mapped = codec.decode(data).address(AttrType.XOR_MAPPED_ADDRESS)
        assert mapped is not None and str(mapped.ip) == ROUTER_OUTSIDE_IP
        player.bind((PLAYER_IPS[0], 0))
        token = secrets.token_bytes(8)
        player.sendto(token, (ROUTER_OUTSIDE_IP, mapped.port))
        home.settimeout(0.5)
        try:
            while True:
                got, _ = home.recvfrom(2048)
                if got == token:
                    return True
        except TimeoutError:
            return False
    finally:
        home.close()
        player.close()


def tcp_reached_through_home_gateway(lab: DoubleNatLab, port: int) -> bool:
    """A connection from the carrier's side to the home gateway's WAN port: forwarded to the host?"""
    listener = lab.socket("host", socket.AF_INET, socket.SOCK_STREAM)
    client = lab.socket("router", socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(1)
        client.settimeout(0.7)
        try:
            client.connect((GATEWAY_WAN_IP, port))
        except OSError:
            return False
        listener.settimeout(0.5)
        conn, _ = listener.accept()
        conn.close()
        return True
    finally:
        client.close()
        listener.close()


# --- each protocol against the real daemon -------------------------------------------------------------


@pytest.mark.parametrize("method", ["PCP", "NAT-PMP", "UPnP"])
def test_each_protocol_opens_renews_and_deletes(upnpd: DoubleNatLab, method: str) -> None:
    lab = upnpd
    port = port_of(lab)
    assert not udp_reached_from_player(lab, port), "the home gateway must drop unsolicited inbound"

    async def run() -> tuple[Forward, Forward]:
        mapper: PcpMapper | NatPmpMapper | UpnpMapper
        if method == "PCP":
            mapper = PcpMapper(GW, OWN, "udp", port, nonce=secrets.token_bytes(12))
        elif method == "NAT-PMP":
            mapper = NatPmpMapper(GW, OWN, "udp", port)
        else:
            mapper = UpnpMapper(GW, OWN, "udp", port, description="nat1_traversal lab")
        opened = await mapper.open(60)
        assert f"dport {port} dnat ip to {HOST_IP}:{port}" in lab.forwards()
        reached = await asyncio.to_thread(udp_reached_from_player, lab, port)
        assert reached, "a player reaches the carrier mapping once the home router forwards"
        renewed = await mapper.renew(60)
        assert not mapper.lost
        await mapper.close()
        assert f"dport {port}" not in lab.forwards()
        return opened, renewed

    opened, renewed = in_host(lab, run)
    assert opened.method == method and opened.external_port == port and 0 < opened.lifetime <= 60
    assert opened.external_ip == ipaddress.IPv4Address(ROUTER_OUTSIDE_IP)
    assert renewed.external_port == port


def test_tcp_forward_passes_the_home_gateway(upnpd: DoubleNatLab) -> None:
    lab = upnpd
    port = port_of(lab)
    assert not tcp_reached_through_home_gateway(lab, port)

    async def run() -> bool:
        async with manager.hold(PortmapRequest("web", "tcp", port, gateway=GW)) as fwd:
            assert fwd.forward is not None and fwd.forward.method == "PCP"
            return await asyncio.to_thread(tcp_reached_through_home_gateway, lab, port)

    assert in_host(lab, run) is True
    assert f"dport {port}" not in lab.forwards()


def test_igd_v1_device(lab: DoubleNatLab) -> None:
    lab.set_carrier(keep_ports=True)
    lab.start_upnpd(UpnpdOptions(natpmp=False, force_igd_v1=True))
    try:
        port = port_of(lab)

        async def run() -> Forward | None:
            forwarder = PortForwarder(PortmapRequest("java", "tcp", port, gateway=GW, deadline=1.0))
            got = await forwarder.open()
            await forwarder.close()
            return got

        got = in_host(lab, run)
        assert isinstance(got, Forward) and got.method == "UPnP"
    finally:
        lab.stop_upnpd()


# --- the manager: log lines, short lease, removal, stale forwards -----------------------------------------


def test_short_lease_is_renewed_and_removed_on_stop(upnpd: DoubleNatLab, caplog: pytest.LogCaptureFixture) -> None:
    lab = upnpd
    port = port_of(lab)

    async def run() -> tuple[int, float]:
        request = PortmapRequest("mcbe", "udp", port, gateway=GW, lifetime=3)
        async with manager.hold(request) as fwd:
            assert fwd.forward is not None and fwd.forward.lifetime == 3
            for _ in range(80):  # at most 8 s: two renewals of a 3 s lease take about 3 s
                if fwd.state.renewals >= 2:
                    break
                await asyncio.sleep(0.1)
            # past the first lease (3 s) and still in place
            assert f"dport {port} dnat" in lab.forwards()
            stopping = time.monotonic()
        return fwd.state.renewals, time.monotonic() - stopping

    renewals, stop_time = in_host(lab, run)
    assert renewals >= 2
    assert stop_time < 3.0
    assert f"dport {port}" not in lab.forwards()
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos.count(f"已通过 PCP 在路由器 {GATEWAY_LAN_IP} 上打开 UDP 端口 {port}") == 1
    assert f"已删除路由器 {GATEWAY_LAN_IP} 上的 UDP 端口 {port} 转发（PCP）" in infos


def test_upnp_stale_forward_of_ours_is_removed_first(lab: DoubleNatLab, caplog: pytest.LogCaptureFixture) -> None:
    lab.set_carrier(keep_ports=True)
    lab.start_upnpd(UpnpdOptions(natpmp=False))  # UPnP only
    try:
        port = port_of(lab)

        async def run() -> Forward | None:
            crashed = UpnpMapper(GW, OWN, "tcp", port, description="nat1_traversal java")
            await crashed.open(600)  # a run that died without deleting
            forwarder = PortForwarder(PortmapRequest("java", "tcp", port, gateway=GW, deadline=1.0))
            got = await forwarder.open()
            await forwarder.close()
            return got

        got = in_host(lab, run)
        assert isinstance(got, Forward) and got.method == "UPnP"
        messages = [r.getMessage() for r in caplog.records]
        assert f"已删除上次运行遗留的端口转发 TCP {port}（nat1_traversal java）" in messages
        assert f"dport {port}" not in lab.forwards()
    finally:
        lab.stop_upnpd()


@pytest.mark.parametrize("wan", ["stun", "private"])
def test_double_nat_refusal_is_a_warning_with_reason_and_advice(
    lab: DoubleNatLab, caplog: pytest.LogCaptureFixture, wan: str
) -> None:
    """miniupnpd turns forwarding off behind a NAT that is not 1:1 (its STUN self-test) or with a private
    WAN address; every protocol refuses, and the user is told why and what to do."""
    lab.set_carrier(keep_ports=False)  # today's carrier: FULL CONE, ports 61000-65000
    lab.start_upnpd(UpnpdOptions(wan=wan))  # type: ignore[arg-type]
    try:
        port = port_of(lab)

        async def run() -> Forward | None:
            return await PortForwarder(PortmapRequest("java", "tcp", port, gateway=GW, deadline=1.0)).open()

        assert in_host(lab, run) is None
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        (warning,) = warnings
        assert warning.startswith(f"路由器 {GATEWAY_LAN_IP} 拒绝打开 TCP 端口 {port}")
        for part in ("PCP 8", "NAT-PMP 3", "UPnP 501", "双重 NAT", "手动添加端口转发"):
            assert part in warning, part
    finally:
        lab.stop_upnpd()
        lab.set_carrier(keep_ports=True)


def test_each_refusal_code_from_the_daemon(lab: DoubleNatLab) -> None:
    lab.set_carrier(keep_ports=False)
    lab.start_upnpd(UpnpdOptions(wan="stun"))
    try:

        async def run() -> list[int]:
            codes = []
            for mapper in (PcpMapper(GW, OWN, "udp", 41000, nonce=b"x" * 12), NatPmpMapper(GW, OWN, "udp", 41000),
                           UpnpMapper(GW, OWN, "udp", 41000, description="nat1_traversal t")):  # fmt: skip
                try:
                    await mapper.open(60)
                except PortmapRefused as exc:
                    codes.append(exc.code)
            return codes

        assert in_host(lab, run) == [8, 3, 501]
    finally:
        lab.stop_upnpd()
        lab.set_carrier(keep_ports=True)


# --- gateways that do not help -----------------------------------------------------------------------------


def test_silent_gateway_is_quiet_in_auto_and_bounded(lab: DoubleNatLab, caplog: pytest.LogCaptureFixture) -> None:
    lab.stop_upnpd()
    # The home gateway drops everything to its UDP 5351 and 1900 and TCP: nothing answers, not even ICMP.
    lab.run("home", ["nft", "add", "table", "inet", "nat1silent"])
    lab.run("home", ["nft", "add", "chain", "inet", "nat1silent", "input",
                     "{ type filter hook input priority -10; policy accept; }"])  # fmt: skip
    lab.run("home", ["nft", "add", "rule", "inet", "nat1silent", "input", "iifname", "g0", "drop"])
    try:
        started = time.monotonic()

        async def run() -> Forward | None:
            return await PortForwarder(PortmapRequest("java", "tcp", 25565, gateway=GW)).open()

        assert in_host(lab, run) is None
        took = time.monotonic() - started
        assert took < 6.0, took
        assert not [r for r in caplog.records if r.levelno >= logging.INFO]
        assert any("没有响应" in r.getMessage() for r in caplog.records)
    finally:
        lab.run("home", ["nft", "delete", "table", "inet", "nat1silent"])


class FakeLanDevice:
    """Another UPnP box on the LAN (a printer, a TV): answers every M-SEARCH with its own LOCATION."""

    def __init__(self, lab: DoubleNatLab) -> None:
        lab.run("home", ["ip", "addr", "replace", f"{PRINTER_IP}/24", "dev", "g0"])
        self.listen = lab.socket("home", socket.AF_INET, socket.SOCK_DGRAM)
        self.listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listen.bind(("0.0.0.0", 1900))
        membership = socket.inet_aton("239.255.255.250") + socket.inet_aton(PRINTER_IP)
        self.listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        self.reply = lab.socket("home", socket.AF_INET, socket.SOCK_DGRAM)
        self.reply.bind((PRINTER_IP, 0))
        self.http = lab.socket("home", socket.AF_INET, socket.SOCK_STREAM)
        self.http.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.http.bind((PRINTER_IP, 5000))
        self.http.listen(4)
        self.http.settimeout(0.05)
        self.searches = 0
        self.fetches = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listen.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data, peer = self.listen.recvfrom(2048)
                if data.startswith(b"M-SEARCH"):
                    self.searches += 1
                    lines = data.split(b"\r\n")
                    target = next(line.split(b":", 1)[1].strip() for line in lines if line.upper().startswith(b"ST:"))
                    self.reply.sendto(
                        b"HTTP/1.1 200 OK\r\nST: " + target + b"\r\nLOCATION: http://" + PRINTER_IP.encode()
                        + b":5000/rootDesc.xml\r\n\r\n", peer,
                    )  # fmt: skip
            except TimeoutError:
                pass
            try:
                conn, _ = self.http.accept()
                self.fetches += 1
                conn.close()
            except TimeoutError:
                pass

    def close(self, lab: DoubleNatLab) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        for sock in (self.listen, self.reply, self.http):
            sock.close()
        lab.run("home", ["ip", "addr", "del", f"{PRINTER_IP}/24", "dev", "g0"], check=False)


def test_answers_from_another_lan_device_are_ignored(lab: DoubleNatLab) -> None:
    lab.stop_upnpd()
    device = FakeLanDevice(lab)
    try:

        async def run() -> Forward | None:
            return await PortForwarder(PortmapRequest("java", "tcp", 25565, gateway=GW, deadline=1.0)).open()

        assert in_host(lab, run) is None
        assert device.searches >= 1, "the fake device did hear the search"
        assert device.fetches == 0, "its LOCATION must not be fetched: it is not the gateway"

        async def named() -> Forward | None:
            request = PortmapRequest("java", "tcp", 25565, gateway=ipaddress.IPv4Address(PRINTER_IP), deadline=1.0)
            return await PortForwarder(request).open()

        assert in_host(lab, named) is None
        assert device.fetches >= 1, "control: named as the gateway, the same device is asked"
    finally:
        device.close(lab)


def test_gateway_reboot_is_noticed_by_the_epoch_and_the_forward_reopened(
    lab: DoubleNatLab, caplog: pytest.LogCaptureFixture
) -> None:
    """miniupnpd restarts (its rules flushed, its PCP epoch back to 0): the next renewal's epoch says so,
    the forward is back, and the §14 line is logged again."""
    lab.set_carrier(keep_ports=True)
    lab.start_upnpd(UpnpdOptions())
    try:
        port = port_of(lab)
        # The daemon's epoch must have grown past the RFC 6887 §8.5 slack of 2 s before the reboot
        # can show as "backwards": let it run a while (this is the time that has to pass, not a sync).
        time.sleep(4)

        async def run() -> int:
            request = PortmapRequest("mcbe", "udp", port, gateway=GW, lifetime=6)
            async with manager.hold(request) as fwd:
                assert fwd.forward is not None
                await asyncio.to_thread(lab.stop_upnpd)
                await asyncio.to_thread(lab.start_upnpd, UpnpdOptions())
                assert f"dport {port}" not in lab.forwards()
                for _ in range(80):  # the renewal is due 3 s after the open: at most 8 s
                    if fwd.state.opened >= 2:
                        break
                    await asyncio.sleep(0.1)
                assert f"dport {port} dnat" in lab.forwards()
                return fwd.state.opened

        assert in_host(lab, run) == 2
        infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        # The forward is back and SPEC §14's line is logged again, whichever renewal saw the
        # restart first: the epoch (logged as a reboot) or, when the renewal raced the daemon's
        # start-up and got no answer, the re-open after the failed renewal. The epoch rule
        # itself is pinned down by the unit tests of portmap.model.EpochClock.
        assert infos.count(f"已通过 PCP 在路由器 {GATEWAY_LAN_IP} 上打开 UDP 端口 {port}") == 2
    finally:
        lab.stop_upnpd()
