"""Abuse that must not take forward mode down (issue 15): a second instance on the
same TCP port, descriptor exhaustion, one source holding every slot, per-event
warnings flooding the log, and stray STUN replies passed to the game server."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import pytest

from nat1_traversal.app import _limits
from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError, NetworkError
from nat1_traversal.forward import TcpForwarder, UdpForwarder
from nat1_traversal.model import Endpoint
from nat1_traversal.net import reuse_socket
from tests.support.util import free_port, wait_until

LOOP4 = ipaddress.ip_address("127.0.0.1")
ROOT = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def echo_server() -> AsyncIterator[Endpoint]:
    srv = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield Endpoint(LOOP4, srv.sockets[0].getsockname()[1])
    finally:
        srv.close()


async def round_trip(port: int, source: str = "127.0.0.1", payload: bytes = b"ping") -> bool:
    """Connect (from ``source``), send, and tell whether the echo came back."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 3
        )
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(payload)
        return await asyncio.wait_for(reader.readexactly(len(payload)), 3) == payload
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()


# -- a second instance -------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_second_forwarder_on_the_same_port_is_refused_and_the_keeper_still_shares() -> None:
    port = free_port()
    async with echo_server() as remote:
        first = TcpForwarder(Endpoint(LOOP4, port), remote)
        await first.start()
        try:
            second = TcpForwarder(Endpoint(LOOP4, port), remote)
            with pytest.raises(NetworkError) as info:
                await second.start()
            text = str(info.value)
            assert "无法监听" in text and "已有其他程序在监听" in text and "nat1_traversal" in text
            # The keeper's own sockets (SO_REUSEADDR + SO_REUSEPORT, never listening) still share the port.
            keeper = reuse_socket("tcp", Endpoint(LOOP4, port))
            keeper.close()
            # Every player still reaches the first instance.
            assert all(await asyncio.gather(*(round_trip(port) for _ in range(8))))
        finally:
            await first.aclose()


def test_the_service_exits_1_when_another_program_listens_on_its_port(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    dead = f"127.0.0.1:{free_port()}"  # the service must stop before it sends anything anywhere
    (tmp_path / "config.json").write_text(json.dumps({
        "type": "tcp", "dns": "no_dns", "local": f"127.0.0.1:{port}", "remote": "127.0.0.1:9",
        "stun_tcp": [dead], "stun_udp": [dead], "keepalive_tcp": [dead], "status": False, "upnp": False,
    }))
    env = {k: v for k, v in os.environ.items() if k != "NAT1_LANG"}
    env["PYTHONPATH"] = str(ROOT)
    try:
        result = subprocess.run([sys.executable, "-m", "nat1_traversal"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
    finally:
        taken.close()
    assert result.returncode == 1, result.stderr
    assert "已有其他程序在监听" in result.stderr
    assert "Traceback" not in result.stderr


# -- descriptor exhaustion -----------------------------------------------------------
CHILD = textwrap.dedent("""
    import asyncio, ipaddress, logging, os, resource, sys
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
    from nat1_traversal.forward import TcpForwarder
    from nat1_traversal.model import Endpoint

    async def main():
        loop = asyncio.get_running_loop()
        lo = ipaddress.ip_address("127.0.0.1")
        fwd = TcpForwarder(Endpoint(lo, 0), Endpoint(lo, int(sys.argv[2])))
        await fwd.start()
        hogs = []  # everything else the process might hold: leave a few descriptors free
        try:
            while True:
                hogs.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        for fd in hogs[:int(sys.argv[3])]:
            os.close(fd)
        del hogs[:int(sys.argv[3])]
        print(fwd.bound.port, fwd.max_connections, flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await reader.readline()  # "release"
        for fd in hogs:
            os.close(fd)
        print("released", flush=True)
        await reader.readline()  # EOF: stop
        await fwd.aclose()

    asyncio.run(main())
""")


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="RLIMIT_NOFILE and /proc are Linux here")
async def test_descriptor_exhaustion_pauses_accepting_quietly_and_recovers() -> None:
    async with echo_server() as remote:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, "256", str(remote.port), "21", env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        try:
            port_text, cap_text = (await asyncio.wait_for(child.stdout.readline(), 20)).split()
            port = int(port_text)
            # 256 descriptors cannot hold 512 pairs: the cap was lowered to fit, and said so.
            assert int(cap_text) < 128
            # A bounded burst far beyond what fits.
            burst = await asyncio.wait_for(asyncio.gather(*(round_trip(port) for _ in range(300))), 60)
            assert any(burst)
            child.stdin.write(b"release\n")
            await child.stdin.drain()
            assert (await asyncio.wait_for(child.stdout.readline(), 10)).strip() == b"released"
            # Descriptors are back: the service forwards again (accepting resumed).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while not await round_trip(port):
                if loop.time() > deadline:
                    pytest.fail("the forwarder did not recover after descriptors were freed")
                await asyncio.sleep(0.1)
            assert all(await asyncio.gather(*(round_trip(port) for _ in range(20))))
            child.stdin.close()
            await asyncio.wait_for(child.wait(), 20)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        stderr = (await child.stderr.read()).decode()
    assert child.returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert "上限降为" in stderr
    assert len(lines) <= 12, "\n".join(lines)


# -- per-source fairness -------------------------------------------------------------
def test_default_per_source_limits_and_the_config_key() -> None:
    tcp = TcpForwarder(Endpoint(LOOP4, 0), Endpoint(LOOP4, 9))
    udp = UdpForwarder(Endpoint(LOOP4, 0), Endpoint(LOOP4, 9))
    assert (tcp.max_per_source, udp.max_per_source) == (64, 128)
    config, warnings = parse_config({"max_connections_per_source": 8})
    assert (config.max_connections_per_source, warnings) == (8, [])
    assert _limits(config, "connections") == {"max_per_source": 8}
    assert parse_config({})[0].max_connections_per_source is None
    for bad in (0, 2.5, "many"):
        with pytest.raises(ConfigError) as info:
            parse_config({"max_connections_per_source": bad})
        assert "max_connections_per_source" in str(info.value.problems)


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="127.0.0.2 is a loopback address on Linux")
async def test_one_source_cannot_hold_every_tcp_slot(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with echo_server() as remote:
        fwd = TcpForwarder(Endpoint(LOOP4, 0), remote, max_connections=10, max_per_source=3)
        await fwd.start()
        held: list[asyncio.StreamWriter] = []
        try:
            for _ in range(3):
                reader, writer = await asyncio.open_connection(*fwd.bound.sockaddr())
                writer.write(b"hi")
                assert await asyncio.wait_for(reader.readexactly(2), 5) == b"hi"
                held.append(writer)
            assert not await round_trip(fwd.bound.port)  # a fourth from the same address
            assert await round_trip(fwd.bound.port, source="127.0.0.2")  # another player still gets in
            held[0].close()
            await wait_until(lambda: fwd.connections == 2)
            assert await round_trip(fwd.bound.port)  # a freed slot is usable again
        finally:
            for writer in held:
                writer.close()
            await fwd.aclose()
    refused = [r.getMessage() for r in caplog.records if "来源地址 127.0.0.1" in r.getMessage()]
    assert len(refused) == 1 and "max_connections_per_source" in refused[0]


def udp_client(source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(0.5)
    return sock


class Echo(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        assert self.transport is not None
        self.transport.sendto(data, addr)


@asynccontextmanager
async def udp_echo() -> AsyncIterator[tuple[Endpoint, Echo]]:
    transport, proto = await asyncio.get_running_loop().create_datagram_endpoint(
        Echo, local_addr=("127.0.0.1", 0)
    )
    try:
        yield Endpoint(LOOP4, transport.get_extra_info("sockname")[1]), proto
    finally:
        transport.close()


async def udp_round_trip(sock: socket.socket, target: tuple[str, int], payload: bytes) -> bool:
    sock.sendto(payload, target)
    try:
        data = await asyncio.to_thread(sock.recv, 65536)
    except TimeoutError:
        return False
    return data == payload


@pytest.mark.asyncio
@pytest.mark.skipif(not LINUX, reason="127.0.0.2 is a loopback address on Linux")
@pytest.mark.parametrize("relay", ["loop", "thread"])
async def test_one_source_cannot_hold_every_udp_session(relay: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with udp_echo() as (remote, _echo):
        fwd = UdpForwarder(Endpoint(LOOP4, 0), remote, max_sessions=10, max_per_source=2,
                           relay="thread" if relay == "thread" else "loop")
        await fwd.start()
        socks = [udp_client() for _ in range(4)] + [udp_client("127.0.0.2")]
        try:
            target = fwd.bound.sockaddr()
            assert await udp_round_trip(socks[0], target, b"one")
            assert await udp_round_trip(socks[1], target, b"two")
            assert not await udp_round_trip(socks[2], target, b"three")  # same address, third port
            assert not await udp_round_trip(socks[3], target, b"four")
            assert await udp_round_trip(socks[4], target, b"other player")
            assert fwd.sessions == 3
        finally:
            for sock in socks:
                sock.close()
            await fwd.aclose()
    lines = [r.getMessage() for r in caplog.records if "来源地址 127.0.0.1" in r.getMessage()]
    counts = [int(m) for line in lines for m in re.findall(r"共丢弃 (\d+) 个", line)]
    assert len(lines) == 2 and sum(counts) == 2  # one at once, the rest when closing: the true count


# -- per-event warnings ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_backend_down_is_one_warning_per_interval_with_the_true_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))  # bound, never listening: every connect is refused
    try:
        fwd = TcpForwarder(Endpoint(LOOP4, 0), Endpoint(LOOP4, placeholder.getsockname()[1]), max_per_source=500)
        await fwd.start()
        try:
            results = await asyncio.gather(*(round_trip(fwd.bound.port) for _ in range(200)))
            assert not any(results)
            await wait_until(lambda: fwd.connections == 0)
            during = [r.getMessage() for r in caplog.records]
        finally:
            await fwd.aclose()
    finally:
        placeholder.close()
    assert len(during) == 1 and "连接" in during[0] and "失败" in during[0]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "已省略 198 条" in lines[1]  # 1 + this one + 198: all 200 accounted for


@pytest.mark.asyncio
async def test_the_cap_warning_reports_every_refusal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="nat1_traversal.forward")
    async with echo_server() as remote:
        fwd = TcpForwarder(Endpoint(LOOP4, 0), remote, max_connections=1)
        await fwd.start()
        try:
            reader, writer = await asyncio.open_connection(*fwd.bound.sockaddr())
            writer.write(b"in")
            assert await asyncio.wait_for(reader.readexactly(2), 5) == b"in"
            refused = await asyncio.gather(*(round_trip(fwd.bound.port) for _ in range(60)))
            assert not any(refused)
            assert sum("上限" in r.getMessage() for r in caplog.records) == 1
            writer.close()
        finally:
            await fwd.aclose()
    counts = [int(m) for r in caplog.records for m in re.findall(r"共拒绝 (\d+) 个", r.getMessage())]
    assert sum(counts) == 60 and len(counts) == 2


# -- stray STUN replies ----------------------------------------------------------------
def stun(kind: int, tid: bytes, body: bytes = b"") -> bytes:
    """A well-formed STUN message: type, length, magic cookie, transaction id, body."""
    body += b"\0" * (-len(body) % 4)
    return kind.to_bytes(2, "big") + len(body).to_bytes(2, "big") + b"\x21\x12\xa4\x42" + tid + body


@pytest.mark.asyncio
@pytest.mark.parametrize("relay", ["loop", "thread"])
@pytest.mark.parametrize("hooked", [True, False])
async def test_stun_replies_nobody_waits_for_never_reach_the_game_server(
    relay: str, hooked: bool, caplog: pytest.LogCaptureFixture
) -> None:
    if relay == "thread" and not LINUX:
        pytest.skip("the relay thread is Linux only")
    caplog.set_level(logging.DEBUG, logger="nat1_traversal.forward")
    offered: list[bytes] = []

    def claims_nothing(data: bytes, addr: tuple[str, int]) -> bool:
        offered.append(data)
        return False

    async with udp_echo() as (remote, game):
        fwd = UdpForwarder(Endpoint(LOOP4, 0), remote, relay="thread" if relay == "thread" else "loop",
                           intercept=claims_nothing if hooked else None)
        await fwd.start()
        sock = udp_client()
        try:
            target = fwd.bound.sockaddr()
            late_success = stun(0x0101, b"a" * 12, b"\x00\x20\x00\x08\x00\x01\x12\x34\x5e\x12\xa4\x43")
            late_error = stun(0x0111, b"b" * 12, b"\x00\x09\x00\x04\x00\x00\x04\x00")
            sock.sendto(late_success, target)
            sock.sendto(late_error, target)
            request = stun(0x0001, b"c" * 12)  # a game that speaks STUN itself still passes
            assert await udp_round_trip(sock, target, request)
            assert await udp_round_trip(sock, target, b"game")
            assert game.received == [request, b"game"]
            if hooked:
                assert late_success in offered and late_error in offered  # the keeper saw them first
        finally:
            sock.close()
            await fwd.aclose()
    dropped = [r for r in caplog.records if "STUN 响应" in r.getMessage()]
    assert dropped and all(r.levelno == logging.DEBUG for r in dropped)
