"""run_service / Service on loopback: modes, refusals, forwarding next to the keeper, signals."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from nat1_traversal.app import Service, check_supported, run_service
from nat1_traversal.config import Config
from nat1_traversal.errors import NetworkError, UsageError
from nat1_traversal.minecraft import ProbeResult
from nat1_traversal.model import Endpoint
from nat1_traversal.watch import ServiceWatch
from tests.support.app_kit import FakePublisher, Fakes
from tests.support.keeper_kit import FAST, LO, OUTER_A
from tests.support.util import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- refusals


def test_shared_port_udp_is_refused() -> None:
    config = Config(type="udp", local=Endpoint(LO, 5000))
    with pytest.raises(UsageError) as info:
        check_supported(config, platform="linux")
    assert info.value.key == "keeper.shared_udp"
    assert "转发模式" in str(info.value)
    assert info.value.exit_code == 2


def test_shared_port_on_windows_is_refused_forward_mode_is_not() -> None:
    local = Endpoint(LO, 5000)
    with pytest.raises(UsageError) as info:
        check_supported(Config(type="mcje", local=local), platform="win32")
    assert info.value.key == "keeper.shared_unsupported_os"
    assert "SO_REUSEPORT" in str(info.value)
    check_supported(Config(type="udp", local=local, remote=Endpoint(LO, 5001)), platform="win32")


@pytest.mark.asyncio
async def test_run_service_refuses_before_binding_anything() -> None:
    with pytest.raises(UsageError):
        await run_service(Config(type="udp", local=Endpoint(LO, free_port(socket.SOCK_DGRAM))))


# --------------------------------------------------------------------------- forward mode


async def _echo_server() -> tuple[asyncio.AbstractServer, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(b"echo:" + data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


@pytest.mark.asyncio
async def test_forward_mode_tcp_maps_forwards_and_stops_cleanly(fakes: Fakes) -> None:
    echo, echo_port = await _echo_server()
    local = Endpoint(LO, free_port())
    config = fakes.config(type="tcp", local=local, remote=Endpoint(LO, echo_port))
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        assert publisher.items[0].outer == OUTER_A
        assert publisher.items[0].inner.port == local.port
        reader, writer = await asyncio.open_connection("127.0.0.1", local.port)
        writer.write(b"hi")
        assert await asyncio.wait_for(reader.read(100), 2) == b"echo:hi"
        writer.close()
        await wait_until(lambda: fakes.http[0].requests >= 3)
    finally:
        started = time.monotonic()
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        elapsed = time.monotonic() - started
        echo.close()
    assert elapsed < 1.0
    assert publisher.closed
    assert len(publisher.items) == 1
    # The port is free again right away (no listener left behind).
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", local.port)) != 0


@pytest.mark.asyncio
async def test_forward_mode_udp_shares_the_forwarder_socket(fakes: Fakes) -> None:
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(b"echo:" + data, addr)  # type: ignore[attr-defined]

    echo_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    echo_port = echo_transport.get_extra_info("sockname")[1]
    local = Endpoint(LO, free_port(socket.SOCK_DGRAM))
    config = fakes.config(type="udp", local=local, remote=Endpoint(LO, echo_port))
    publisher = FakePublisher()
    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_service(config, stop=stop, service=Service(config, timing=FAST, publisher=publisher))
    )
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        # STUN went out of the service port itself.
        assert {src[1] for src in fakes.stun_udp[0].sources} == {local.port}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as player:
            player.settimeout(2)
            player.sendto(b"ping", ("127.0.0.1", local.port))
            data = await loop.run_in_executor(None, player.recv, 100)
        assert data == b"echo:ping"
        await wait_until(lambda: fakes.stun_udp[0].requests >= 5)
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        echo_transport.close()
    assert len(publisher.items) == 1


# --------------------------------------------------------------------------- shared-port mode


def _listener(port: int, *, reuseport: bool) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    return sock


@pytest.mark.asyncio
async def test_shared_port_waits_for_the_service_then_maps(fakes: Fakes, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    config = fakes.config(type="tcp", local=Endpoint(LO, port))
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO):
        runner = asyncio.create_task(run_service(config, stop=stop, service=service))
        listener: socket.socket | None = None
        try:
            await wait_until(lambda: any("等待本地服务" in r.getMessage() for r in caplog.records))
            await asyncio.sleep(FAST.probe_interval * 3)
            assert publisher.items == []  # nothing mapped before the service is up
            listener = _listener(port, reuseport=True)  # what hook_bind.so does for the server
            await wait_until(lambda: len(publisher.items) == 1)
            assert publisher.items[0].inner.port == port
        finally:
            stop.set()
            assert await asyncio.wait_for(runner, 2) == 0
            if listener is not None:
                listener.close()


@pytest.mark.asyncio
async def test_shared_port_without_hook_is_a_clear_error(fakes: Fakes) -> None:
    port = free_port()
    listener = _listener(port, reuseport=False)  # a server started without hook_bind.so
    try:
        config = fakes.config(type="tcp", local=Endpoint(LO, port))
        service = Service(config, timing=FAST, publisher=FakePublisher())
        with pytest.raises(NetworkError) as info:
            await asyncio.wait_for(run_service(config, service=service), 5)
    finally:
        listener.close()
    assert info.value.key == "keeper.shared_bind_failed"
    assert "hook_bind.so" in str(info.value)


# --------------------------------------------------------------------------- local watch


@pytest.mark.asyncio
async def test_watch_logs_motd_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [ProbeResult(False, None)] * 3
        + [ProbeResult(True, "A Minecraft Server")] * 5
        + [ProbeResult(False, None)] * 2
        + [ProbeResult(True, "A Minecraft Server")] * 3
        + [ProbeResult(True, "Maintenance")] * 50
    )

    async def probe(_type: str, _target: Endpoint) -> ProbeResult:
        return next(answers)

    watch = ServiceWatch("mcje", Endpoint(LO, 25565), FAST, probe=probe)
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(watch.wait_ready(), 2)
        for _ in range(12):
            await watch.check()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("等待本地服务" in m for m in messages) == 1
    assert [m for m in messages if m.startswith("服务器信息")] == [
        "服务器信息：A Minecraft Server",
        "服务器信息：Maintenance",
    ]
    assert sum("没有响应" in m for m in messages) == 1
    assert sum("已就绪" in m for m in messages) == 2


# --------------------------------------------------------------------------- the real CLI and signals


async def _start_cli(
    tmp_path: Path, fakes: Fakes, local_port: int, remote_port: int, extra: dict[str, object] | None = None
) -> asyncio.subprocess.Process:
    cfg: dict[str, object] = {
        "type": "tcp",
        "stun_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_tcp)],
        "stun_udp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.stun_udp)],
        "keepalive_tcp": [f"{h}:{p}" for h, p in (s.addr for s in fakes.http)],
        "keepalive_interval": 1,
        "status": False,
        **(extra or {}),
        "reach_check": False,
        "upnp": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nat1_traversal",
        "-c",
        str(path),
        "-l",
        f"127.0.0.1:{local_port}",
        "-r",
        f"127.0.0.1:{remote_port}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )


async def _read_until(proc: asyncio.subprocess.Process, needle: str, timeout: float = 10) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not seen; got {lines}")
        line = await asyncio.wait_for(proc.stdout.readline(), remaining)
        if not line:
            raise AssertionError(f"EOF before {needle!r}; got {lines}")
        lines.append(line.decode("utf-8", "replace").rstrip())
        if needle in lines[-1]:
            return lines


@pytest.mark.asyncio
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_cli_signal_stops_cleanly_within_a_second(tmp_path: Path, fakes: Fakes, signum: int) -> None:
    echo, echo_port = await _echo_server()
    proc = await _start_cli(tmp_path, fakes, free_port(), echo_port)
    try:
        lines = await _read_until(proc, "获取到映射地址： 198.51.100.7:61001")
        assert any(line == "[    INFO] 获取到映射地址： 198.51.100.7:61001" for line in lines), lines
        started = time.monotonic()
        proc.send_signal(signum)
        code = await asyncio.wait_for(proc.wait(), 3)
        elapsed = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        echo.close()
    assert code == 0
    assert elapsed < 1.0


@pytest.mark.asyncio
async def test_sigterm_during_a_stuck_publish_exits_within_a_second(tmp_path: Path, fakes: Fakes) -> None:
    """Issue 15: a provider call blocked in its thread (here a webhook that accepts and
    never answers) held SIGTERM until its timeout ran out: 13.4 s in the field. The
    blocking call is abandoned now, not waited out."""
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()
        await reader.read(65536)  # the request; the reply never comes

    hook = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    hook_port = hook.sockets[0].getsockname()[1]
    echo, echo_port = await _echo_server()
    extra: dict[str, object] = {
        "dns": "webhook", "id": f"http://127.0.0.1:{hook_port}/ddns", "domain": "example.com", "sub_domain": "mc",
    }
    proc = await _start_cli(tmp_path, fakes, free_port(), echo_port, extra)
    try:
        await _read_until(proc, "获取到映射地址： 198.51.100.7:61001")
        await asyncio.wait_for(connected.wait(), 10)  # the publish is in flight, blocked
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 5)
        elapsed = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for writer in held:
            writer.close()
        hook.close()
        echo.close()
    assert code == 0
    assert elapsed < 1.0, f"{elapsed:.2f}s"


@pytest.mark.asyncio
async def test_cli_second_signal_forces_exit(tmp_path: Path, fakes: Fakes) -> None:
    echo, echo_port = await _echo_server()
    proc = await _start_cli(tmp_path, fakes, free_port(), echo_port)
    try:
        await _read_until(proc, "获取到映射地址")
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 3)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        echo.close()
    assert code in (0, 128 + signal.SIGINT)  # the first may have finished before the second arrived


@pytest.mark.asyncio
async def test_config_limits_reach_the_forwarder(fakes: Fakes) -> None:
    """max_connections / idle_timeout from config.json: one connection over the cap is refused."""
    echo, echo_port = await _echo_server()
    local = Endpoint(LO, free_port())
    config = replace(fakes.config(type="tcp", local=local, remote=Endpoint(LO, echo_port)),
                     max_connections=1, idle_timeout=300.0)
    service = Service(config, timing=FAST, publisher=FakePublisher())
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: service.forwarder is not None)
        forwarder = service.forwarder
        assert (forwarder.max_connections, forwarder.idle_timeout) == (1, 300.0)  # type: ignore[union-attr]
        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", local.port)
        first_writer.write(b"a")
        assert await asyncio.wait_for(first_reader.read(100), 2) == b"echo:a"
        second_reader, second_writer = await asyncio.open_connection("127.0.0.1", local.port)
        assert await asyncio.wait_for(second_reader.read(100), 2) == b""  # over the cap: closed at once
        for writer in (first_writer, second_writer):
            writer.close()
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        echo.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("forward", [False, True])
async def test_mcbe_shared_port_warns_about_the_advertised_port(
    fakes: Fakes, caplog: pytest.LogCaptureFixture, forward: bool
) -> None:
    """SPEC section 13: only forward mode can rewrite Bedrock's advertised port, so shared-port mode says so."""
    port = free_port(socket.SOCK_DGRAM)
    remote = Endpoint(LO, free_port(socket.SOCK_DGRAM)) if forward else None
    config = fakes.config(type="mcbe", local=Endpoint(LO, port), remote=remote)
    service = Service(config, timing=FAST, publisher=FakePublisher())
    with caplog.at_level(logging.WARNING):
        try:
            await service.start()
        finally:
            await service.aclose()
    warned = [r for r in caplog.records if "宣告的是它自己的端口" in r.getMessage()]
    assert len(warned) == (0 if forward else 1)
    if warned:
        assert warned[0].levelno == logging.WARNING and str(port) in warned[0].getMessage()
