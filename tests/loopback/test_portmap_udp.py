"""PCP / NAT-PMP over real UDP sockets on loopback, against a scripted server on 127.0.0.1:5351.

Proves what the codecs cannot: renewals and deletes carry the mapping's nonce,
a lost request is retransmitted, a reply from another address (127.0.0.2) never
counts, ICMP port unreachable fails fast, and the overall deadline holds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest

from nat1_traversal.errors import NetTimeout, NetworkError
from nat1_traversal.portmap import pcp
from nat1_traversal.portmap.clients import NatPmpMapper, PcpMapper
from nat1_traversal.portmap.model import SERVER_PORT

LO = ipaddress.IPv4Address("127.0.0.1")
NONCE = bytes(range(12))


class ScriptedServer:
    """Answers each request with ``answer(request)`` (None = stay silent), optionally from 127.0.0.2 first."""

    def __init__(
        self, answer: Callable[[bytes], bytes | None], *, spoof_first: bool = False, only_spoofed: bool = False
    ) -> None:
        self.answer = answer
        self.spoof_first = spoof_first
        self.only_spoofed = only_spoofed
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", SERVER_PORT))
        self.sock.setblocking(False)
        self.spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.spoof.bind(("127.0.0.2", SERVER_PORT))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        data, peer = self.sock.recvfrom(2048)
        self.requests.append(data)
        reply = self.answer(data)
        if reply is None:
            return
        if self.spoof_first:
            self.spoof.sendto(reply, peer)  # the same bytes, from the wrong address
        if not self.only_spoofed:
            self.sock.sendto(reply, peer)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.spoof.close()


def pcp_answer(epoch: int = 100) -> Callable[[bytes], bytes]:
    def answer(request: bytes) -> bytes:
        lifetime = struct.unpack_from("!I", request, 4)[0]
        nonce, proto = request[24:36], request[36]
        internal, external = struct.unpack_from("!HH", request, 40)
        return (
            struct.pack("!BBxBII12x", 2, 0x81, 0, min(lifetime, 120), epoch)
            + nonce
            + struct.pack("!B3xHH", proto, internal, external or internal)
            + pcp.mapped(ipaddress.IPv4Address("203.0.113.1"))
        )

    return answer


@pytest.fixture
def port_5351_free() -> Iterator[None]:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", SERVER_PORT))
    except OSError:
        pytest.skip("127.0.0.1:5351 is taken on this machine")
    finally:
        probe.close()
    yield


@pytest.mark.asyncio
@pytest.mark.usefixtures("port_5351_free")
async def test_pcp_renewal_and_delete_repeat_the_nonce_and_spoofed_replies_do_not_count() -> None:
    loop = asyncio.get_running_loop()
    server = ScriptedServer(pcp_answer(), spoof_first=True)
    server.attach(loop)
    try:
        mapper = PcpMapper(LO, LO, "udp", 25565, nonce=NONCE, deadline=1.0)
        opened = await mapper.open(3600)
        renewed = await mapper.renew(3600)
        await mapper.close()
    finally:
        server.close(loop)
    assert opened.lifetime == 120 and renewed.lifetime == 120  # what was granted, not asked
    assert [r[24:36] for r in server.requests] == [NONCE] * 3
    assert [struct.unpack_from("!I", r, 4)[0] for r in server.requests] == [3600, 3600, 0]
    assert not mapper.lost


@pytest.mark.asyncio
@pytest.mark.usefixtures("port_5351_free")
async def test_a_lost_request_is_sent_again() -> None:
    loop = asyncio.get_running_loop()
    answer = pcp_answer()
    server = ScriptedServer(lambda data: None if len(server.requests) == 1 else answer(data))
    server.attach(loop)
    try:
        started = loop.time()
        forward = await PcpMapper(LO, LO, "tcp", 25565, nonce=NONCE, deadline=2.0).open(600)
        took = loop.time() - started
    finally:
        server.close(loop)
    assert forward.external_port == 25565
    assert len(server.requests) == 2 and 0.2 < took < 1.0  # RFC 6886 §3.1: again after 250 ms


@pytest.mark.asyncio
@pytest.mark.usefixtures("port_5351_free")
async def test_only_spoofed_replies_end_in_a_timeout_within_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    server = ScriptedServer(pcp_answer(), spoof_first=True, only_spoofed=True)
    server.attach(loop)
    try:
        started = time.monotonic()
        with pytest.raises(NetTimeout):
            await PcpMapper(LO, LO, "udp", 25565, nonce=NONCE, deadline=0.8).open(600)
        took = time.monotonic() - started
    finally:
        server.close(loop)
    assert 0.7 < took < 1.5
    assert len(server.requests) >= 2  # retransmitted while the wrong address kept answering


@pytest.mark.asyncio
async def test_nothing_listening_fails_fast() -> None:
    # 127.0.0.1:5351 with no server: ICMP port unreachable, no need to wait out the deadline.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", SERVER_PORT))
    except OSError:
        pytest.skip("127.0.0.1:5351 is taken on this machine")
    probe.close()
    started = time.monotonic()
    with pytest.raises(NetworkError):
        await NatPmpMapper(LO, LO, "udp", 25565, deadline=3.0).open(600)
    assert time.monotonic() - started < 1.0
