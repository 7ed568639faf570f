"""minecraft.py: pure reading of status replies, pings against loopback fakes, the local probe."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nat1_traversal import minecraft
from nat1_traversal.errors import NetTimeout, NetworkError, ProtocolError
from nat1_traversal.minecraft import (
    ProbeResult,
    ServerStatus,
    bedrock_status,
    bedrock_status_from_pong,
    description_lines,
    flatten_component,
    java_status,
    java_status_from_raw,
    probe_local,
    strip_formatting,
)
from nat1_traversal.model import Endpoint
from tests.support import mcfakes

V4 = ipaddress.IPv4Address("127.0.0.1")
V6 = ipaddress.IPv6Address("::1")
PING = b"\x01" + bytes(8) + mcfakes.MAGIC + bytes(8)

STATUS = {
    "version": {"name": "Paper 1.21.1", "protocol": 767},
    "description": {"text": "§6A §lMinecraft§r Server\n", "extra": [{"text": "second line", "color": "gray"}]},
    "players": {"online": 2, "max": 20, "sample": [{"name": "Steve", "id": "0-0"}, {"name": "Alex", "id": "0-1"}]},
    "favicon": "data:image/png;base64,AAAA",
}


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("component", "text"),
    [
        ("plain §cred", "plain §cred"),
        ({"text": "a"}, "a"),
        ({"text": "a", "extra": ["b", {"text": "c", "extra": [{"text": "d"}]}]}, "abcd"),
        ([{"text": "a"}, "b", ["c", ["d", {"text": "e"}]]], "abcde"),
        ({"extra": [["q"], "r"]}, "qr"),
        ({"translate": "chat.type.text", "with": ["Steve", {"text": "hi"}]}, "chat.type.text"),
        ({"translate": "%s says %s", "with": ["Steve", {"text": "hi"}]}, "Steve says hi"),
        ({"translate": "%2$s then %1$s, 100%%", "with": ["a", "b"]}, "b then a, 100%"),
        ({"translate": "k.missing", "fallback": "Hello %s", "with": ["you"]}, "Hello you"),
        ({"translate": "%s and %s", "with": ["only one"]}, "only one and "),
        ({"score": {"name": "@p", "objective": "o", "value": "42"}}, "42"),
        ({"keybind": "key.jump"}, "key.jump"),
        ({"selector": "@a"}, "@a"),
        ({"text": 5, "extra": [1.5, None, True, {"text": None}]}, "51.5"),
        ({"color": "red"}, ""),
        (None, ""),
        (7, "7"),
    ],
)
def test_flatten_every_component_shape(component: object, text: str) -> None:
    assert flatten_component(component) == text


def test_description_lines_strip_codes_and_split() -> None:
    assert description_lines("§aHello§r\n§lWorld§") == ("Hello", "World")
    assert description_lines({"text": "one\ntwo\n", "extra": ["\n"]}) == ("one", "two")
    assert description_lines("") == ()
    assert description_lines({"text": "a\n\nb"}) == ("a", "", "b")
    assert strip_formatting("§x§§y") == "y"


def test_deep_nesting_is_a_protocol_error_not_a_crash() -> None:
    component: object = "x"
    for _ in range(500):
        component = [component]
    with pytest.raises(ProtocolError):
        flatten_component(component)


def test_java_status_from_raw_reads_what_we_print() -> None:
    status = java_status_from_raw(STATUS)
    assert status == ServerStatus(
        edition="java",
        version_name="Paper 1.21.1",
        protocol=767,
        description=("A Minecraft Server", "second line"),
        online=2,
        max_players=20,
        players=("Steve", "Alex"),
    )
    assert json.dumps(status.to_json(), ensure_ascii=False) == (
        '{"version": {"name": "Paper 1.21.1", "protocol": 767}, "description": ["A Minecraft Server", '
        '"second line"], "players": {"max": 20, "online": 2, "list": ["Steve", "Alex"]}}'
    )


def test_java_sample_is_optional_and_adverts_are_kept() -> None:
    no_sample = {**STATUS, "players": {"online": 0, "max": 5}}
    assert "list" not in java_status_from_raw(no_sample).to_json()["players"]  # type: ignore[operator]
    weird = {**STATUS, "players": {"online": 1, "max": 5, "sample": [{"name": "§bVisit us"}, {"id": "x"}, "junk"]}}
    assert java_status_from_raw(weird).players == ("§bVisit us",)
    empty = {**STATUS, "players": {"online": 0, "max": 5, "sample": []}}
    assert java_status_from_raw(empty).to_json()["players"] == {"max": 5, "online": 0, "list": []}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"players": {"online": 1, "max": 2}},
        {"version": {"name": "x", "protocol": 1}},
        {**STATUS, "version": {"name": 5, "protocol": 1}},
        {**STATUS, "version": {"name": "x", "protocol": "1"}},
        {**STATUS, "players": {"online": True, "max": 2}},
        {**STATUS, "players": {"online": 1}},
    ],
)
def test_java_status_from_raw_rejects_broken_replies(raw: object) -> None:
    with pytest.raises(ProtocolError):
        java_status_from_raw(raw)


def test_bedrock_pong_two_motd_lines_and_version() -> None:
    pong = mcfakes.unconnected_pong(PING, mcfakes.pong_string(motd="§aMy §lServer", motd2="§7World", online=3))
    status = bedrock_status_from_pong(pong)
    assert status.to_json() == {
        "version": {"name": "1.21.2", "protocol": 712},
        "description": ["My Server", "World"],
        "players": {"max": 10, "online": 3},
    }


def test_bedrock_pong_without_second_line() -> None:
    pong = mcfakes.unconnected_pong(PING, mcfakes.pong_string(motd2=None))
    assert bedrock_status_from_pong(pong).description == ("Dedicated Server",)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x1c",
        b"\x1d" + bytes(16) + mcfakes.MAGIC + b"\x00\x00",
        b"\x1c" + bytes(16) + bytes(16) + b"\x00\x00",  # wrong magic
        mcfakes.unconnected_pong(PING, "MCPE;motd;notanumber;1.0;1;2;3;"),
        mcfakes.unconnected_pong(PING, "MCPE;motd"),
        mcfakes.unconnected_pong(PING, "")[:-2],
        b"\x1c" + bytes(16) + mcfakes.MAGIC + struct.pack(">H", 3) + b"\xff\xfe\xfd",
    ],
)
def test_bedrock_bad_pongs_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        bedrock_status_from_pong(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["text", "extra", "translate", "with", "fallback", "score", "value", "name", "version",
                         "players", "description", "online", "max", "protocol", "sample", "keybind", "selector"]),
        inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=json_values)
def test_any_json_gives_a_status_or_a_protocol_error(raw: object) -> None:
    try:
        status = java_status_from_raw(raw)
    except ProtocolError:
        return
    json.dumps(status.to_json(), ensure_ascii=False)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(component=json_values)
def test_flatten_always_gives_text(component: object) -> None:
    assert isinstance(flatten_component(component), str)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.binary(max_size=200), framed=st.booleans())
def test_any_pong_bytes_give_a_status_or_a_protocol_error(tail: bytes, framed: bool) -> None:
    data = (b"\x1c" + bytes(16) + mcfakes.MAGIC + tail) if framed else tail
    with contextlib.suppress(ProtocolError):
        bedrock_status_from_pong(data)


# --------------------------------------------------------------------------- Java over loopback


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_java_status_both_families_and_handshake_host(host: str) -> None:
    async with mcfakes.JavaFake(mcfakes.modern(STATUS), host=host) as fake:
        ip = ipaddress.ip_address(host)
        status = await java_status(ip, fake.port, server_host="mc.example.net", timeout=2)
    assert status.players == ("Steve", "Alex")
    assert fake.handshakes[0].host == "mc.example.net"
    assert fake.handshakes[0].port == fake.port
    assert fake.handshakes[0].next_state == 1


@pytest.mark.asyncio
async def test_java_large_sample_beyond_32767_chars() -> None:
    names = [f"player_{i:05d}" for i in range(2000)]
    big = {**STATUS, "players": {"online": 2000, "max": 5000,
                                 "sample": [{"name": n, "id": "00000000-0000-0000-0000-000000000000"} for n in names]}}
    assert len(json.dumps(big)) > 32767
    async with mcfakes.JavaFake(mcfakes.modern(big)) as fake:
        status = await java_status(V4, fake.port, timeout=3)
    assert status.players == tuple(names)


@pytest.mark.asyncio
@pytest.mark.parametrize("hang", [False, True])
async def test_java_legacy_only_server_answers_through_fallback(hang: bool) -> None:
    kick = mcfakes.legacy_kick(78, "1.6.4", "§aOld §lserver", 3, 9)
    loop = asyncio.get_running_loop()
    async with mcfakes.JavaFake(mcfakes.legacy_only(kick, hang=hang)) as fake:
        started = loop.time()
        status = await java_status(V4, fake.port, timeout=1)
        assert loop.time() - started < 1
    assert status.to_json() == {
        "version": {"name": "1.6.4", "protocol": 78},
        "description": ["Old server"],
        "players": {"max": 9, "online": 3},
    }
    assert fake.connections == 2


@pytest.mark.asyncio
async def test_java_silent_server_times_out_on_our_deadline() -> None:
    loop = asyncio.get_running_loop()
    async with mcfakes.JavaFake(mcfakes.silent()) as fake:
        started = loop.time()
        with pytest.raises(NetTimeout):
            await java_status(V4, fake.port, timeout=0.4)
        assert loop.time() - started < 1.5


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "behaviour",
    [
        mcfakes.close_at_once(),
        mcfakes.raw_reply(b"\x05\x01garbage"),
        mcfakes.raw_reply(mcfakes.packet(0, mcfakes.mc_string("{not json"))),
        mcfakes.raw_reply(mcfakes.packet(0, mcfakes.mc_string('{"version": 1}'))),
        mcfakes.raw_reply(mcfakes.packet(0, mcfakes.varint(100) + b"short")),
        mcfakes.raw_reply(mcfakes.varint(50_000_000) + b"\x00"),
        mcfakes.raw_reply(b"\xff\xff\xff\xff\xff\xff"),
        mcfakes.raw_reply(mcfakes.status_response("[" * 100_000 + "]" * 100_000)),
    ],
)
async def test_java_broken_servers_are_protocol_errors(behaviour: mcfakes.Behaviour) -> None:
    async with mcfakes.JavaFake(behaviour) as fake:
        with pytest.raises(ProtocolError):
            await java_status(V4, fake.port, timeout=2)


@pytest.mark.asyncio
async def test_java_refused_is_a_network_error() -> None:
    port = _closed_port(socket.SOCK_STREAM)
    with pytest.raises(NetworkError):
        await java_status(V4, port, timeout=2)


# --------------------------------------------------------------------------- Bedrock over loopback


@pytest.mark.asyncio
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_bedrock_status_both_families(host: str) -> None:
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(mcfakes.pong_string(online=4)), host)
    try:
        status = await bedrock_status(ipaddress.ip_address(host), server.port, timeout=2)
    finally:
        server.close()
    assert status.online == 4
    assert status.version_name == "1.21.2"


@pytest.mark.asyncio
async def test_bedrock_resends_a_lost_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minecraft, "BEDROCK_RESEND_INTERVAL", 0.1)
    fake = mcfakes.BedrockFake(mcfakes.pong_string(), drop_first=2)
    server = await mcfakes.start_bedrock(fake)
    try:
        status = await bedrock_status(V4, server.port, timeout=2)
    finally:
        server.close()
    assert status.protocol == 712
    assert fake.pings == 3


@pytest.mark.asyncio
async def test_bedrock_ignores_stray_datagrams_then_times_out() -> None:
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(reply=b"\x00hello"))
    try:
        with pytest.raises(NetTimeout):
            await bedrock_status(V4, server.port, timeout=0.3)
    finally:
        server.close()


@pytest.mark.asyncio
async def test_bedrock_bad_pong_and_refused() -> None:
    bad = b"\x1c" + bytes(16) + mcfakes.MAGIC + struct.pack(">H", 4) + b"MCPE"
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(reply=bad))
    try:
        with pytest.raises(ProtocolError):
            await bedrock_status(V4, server.port, timeout=2)
    finally:
        server.close()
    with pytest.raises((NetworkError, NetTimeout)):
        await bedrock_status(V4, _closed_port(socket.SOCK_DGRAM), timeout=0.5)


# --------------------------------------------------------------------------- local probe


@pytest.mark.asyncio
async def test_probe_local_java_on_wildcard_endpoints() -> None:
    async with mcfakes.JavaFake(mcfakes.modern(STATUS)) as v4, mcfakes.JavaFake(mcfakes.modern(STATUS), "::1") as v6:
        r4 = await probe_local("mcje", Endpoint(ipaddress.IPv4Address("0.0.0.0"), v4.port), timeout=2)
        r6 = await probe_local("mcje", Endpoint(ipaddress.IPv6Address("::"), v6.port), timeout=2)
    assert r4 == r6 == ProbeResult(True, "A Minecraft Server / second line | Paper 1.21.1 (767) | 2/20")


@pytest.mark.asyncio
async def test_probe_local_bedrock_tcp_udp() -> None:
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(mcfakes.pong_string(motd="Hi", motd2=None)))
    try:
        result = await probe_local("mcbe", Endpoint(ipaddress.IPv4Address("0.0.0.0"), server.port), timeout=2)
    finally:
        server.close()
    assert result == ProbeResult(True, "Hi | 1.21.2 (712) | 0/10")
    async with mcfakes.JavaFake(mcfakes.silent()) as plain:
        for kind in ("tcp", "web"):
            assert await probe_local(kind, Endpoint(V4, plain.port), timeout=2) == ProbeResult(True, None)
    closed = Endpoint(V4, _closed_port(socket.SOCK_STREAM))
    assert await probe_local("tcp", closed, timeout=1) == ProbeResult(False, None)
    assert await probe_local("mcje", closed, timeout=1) == ProbeResult(False, None)
    assert await probe_local("udp", closed) == ProbeResult(True, None)
    with pytest.raises(ValueError, match="unknown service type"):
        await probe_local("ftp", closed)


@pytest.mark.asyncio
async def test_probe_local_silent_java_is_down_within_timeout() -> None:
    async with mcfakes.JavaFake(mcfakes.silent()) as fake:
        result = await asyncio.wait_for(probe_local("mcje", Endpoint(V4, fake.port), timeout=0.3), 2)
    assert result == ProbeResult(False, None)


def _closed_port(kind: int) -> int:
    """A loopback port nothing listens on (bound then released)."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port
