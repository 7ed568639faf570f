"""Hostile peer text through the real CLI (issue 15): a STUN reason cannot forge log lines
under -d, and a MOTD's C1 controls are not printed raw by -q."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from nat1_traversal.stun.codec import Attribute, AttrType, ErrorCode, Message, MessageClass, Method, decode, encode
from tests.support import mcfakes
from tests.support.cli_run import cli_argv, cli_env, write_config

FORGED = "[   ERROR] 伪造的一行"
TIMEOUT = 30.0


class ErrorStun(asyncio.DatagramProtocol):
    """Answers every Binding request with ERROR-CODE 400 whose reason carries newlines."""

    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = decode(data)
        self.requests += 1
        reason = f"bad\n{FORGED}\r\n\x1b[2J\x9b31m"
        reply = Message(Method.BINDING, MessageClass.ERROR, request.transaction_id,
                        (Attribute(AttrType.ERROR_CODE, ErrorCode(400, reason)),))
        sendto = getattr(self.transport, "sendto")  # noqa: B009 - selector transports are not DatagramTransport
        sendto(encode(reply), addr)


async def run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *cli_argv(*args), cwd=cwd, env=cli_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@pytest.mark.asyncio
async def test_stun_error_reason_cannot_forge_log_lines(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    transport, fake = await loop.create_datagram_endpoint(ErrorStun, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        write_config(tmp_path, stun_udp=[f"127.0.0.1:{port}"], stun_tcp=["127.0.0.1:9"])
        _, out, err = await run(["-d", "-t", "-c", "config.json"], tmp_path)
    finally:
        transport.close()
    assert fake.requests >= 1
    assert "bad\\n" in err, err[-3000:]  # the reason was logged, escaped
    text = out + err
    for line in text.splitlines():
        assert FORGED not in line or not line.startswith(FORGED), line
        assert "\x1b" not in line and "\x9b" not in line and "\r" not in line, repr(line)


@pytest.mark.asyncio
async def test_query_motd_with_c1_controls_is_escaped(tmp_path: Path) -> None:
    description = "hello\x9b31m red \x1b[2J\u2028line\x85"
    status = {"version": {"name": "1.21.1", "protocol": 767}, "description": {"text": description},
              "players": {"online": 1, "max": 10}}
    async with mcfakes.JavaFake(mcfakes.modern(status)) as java:
        code, out, err = await run(["-qj", f"127.0.0.1:{java.port}"], tmp_path)
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("MCJE: ")]
    for raw in ("\x9b", "\x1b", "\u2028", "\x85"):
        assert raw not in out, repr(out)
    shown = json.loads(line[len("MCJE: "):])
    assert "hello" in json.dumps(shown, ensure_ascii=False)
