"""A real Bedrock protocol client (PrismarineJS ``bedrock-protocol``, default options
but offline) joins a real Bedrock protocol server through the UDP forwarder (issue
12). The client follows the port the server's pong advertises: unless the forwarder
rewrites it to the public one, the client leaves the forwarder and times out.
Loopback only: the server listens on 127.0.0.2, the forwarder on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import sys
from pathlib import Path

import pytest

from nat1_traversal.forward import UdpForwarder
from nat1_traversal.model import Endpoint
from tests.support.ci import IN_CI

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "bedrock_join.js"
SERVER_HOST = "127.0.0.2"

pytestmark = pytest.mark.slow


def require_client() -> str:
    node = shutil.which("node")
    problem = None
    if not sys.platform.startswith("linux"):
        problem = "127.0.0.2 is a loopback address on Linux"
    elif node is None:
        problem = "missing: node"
    elif not (NODE_DIR / "node_modules" / "bedrock-protocol").is_dir():
        problem = "bedrock-protocol not installed (tools/install_deps.sh runs npm ci in tests/node)"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"required under CI: {problem}")
        pytest.skip(problem)
    assert node is not None
    return node


def free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def join(node: str, port: int) -> tuple[int, str]:
    client = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), "client", "127.0.0.1", str(port), cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(client.communicate(), 40)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    assert client.returncode is not None
    return client.returncode, out.decode(errors="replace")


@pytest.mark.asyncio
async def test_a_real_bedrock_client_joins_through_forward_mode() -> None:
    node = require_client()
    port = free_udp_port(SERVER_HOST)
    server = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), "server", SERVER_HOST, str(port), cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert server.stdout is not None
    fwd = UdpForwarder(Endpoint(ipaddress.ip_address("127.0.0.1"), 0),
                       Endpoint(ipaddress.ip_address(SERVER_HOST), port))
    try:
        for _ in range(20):  # bounded: the library prints a bind note before LISTENING
            line = await asyncio.wait_for(server.stdout.readline(), 30)
            if line.startswith(b"LISTENING") or not line:
                break
        assert line.startswith(b"LISTENING"), line
        await fwd.start()
        # No mapping known yet: the pong is passed unchanged and the client follows
        # the server's own port, where nothing answers on 127.0.0.1.
        code, out = await join(node, fwd.bound.port)
        assert code != 0 and f"127.0.0.1:{port}" in out, out
        # With the public port (here the forwarder's own) advertised, it joins.
        fwd.set_advertised_port(fwd.bound.port)
        code, out = await join(node, fwd.bound.port)
        assert code == 0 and "CLIENT_JOINED" in out, out
        assert f"127.0.0.1:{fwd.bound.port}" in out
    finally:
        await fwd.aclose()
        server.kill()
        await server.wait()
