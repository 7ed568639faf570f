"""query.py: target grammar, SRV order, and run_query against loopback fakes and a local DNS server."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from nat1_traversal import i18n, query
from nat1_traversal.errors import UsageError
from nat1_traversal.query import QueryTarget, order_srv, parse_target, plans_for, run_query
from tests.support import mcfakes


def java_status(tag: str) -> dict[str, object]:
    return {
        "version": {"name": "1.21.1", "protocol": 767},
        "description": [{"text": f"§a{tag}"}],
        "players": {"online": 1, "max": 10, "sample": [{"name": f"p_{tag}", "id": "0"}]},
    }


def lines_of(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def answered(line: str, label: str) -> dict[str, object]:
    prefix = f"{label}: "
    assert line.startswith(prefix), line
    data: dict[str, object] = json.loads(line[len(prefix) :])
    return data


def description(line: str, label: str) -> list[str]:
    value = answered(line, label)["description"]
    assert isinstance(value, list)
    return value


# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, QueryTarget(None, None)),
        ("", QueryTarget(None, None)),
        (":", QueryTarget(None, None)),
        (":25566", QueryTarget(None, 25566)),
        ("25566", QueryTarget(None, 25566)),
        ("mc.example.com", QueryTarget("mc.example.com", None)),
        ("mc.example.com:1", QueryTarget("mc.example.com", 1)),
        ("mc.example.com.:65535", QueryTarget("mc.example.com.", 65535)),
        ("localhost", QueryTarget("localhost", None)),
        ("1.2.3.4", QueryTarget("1.2.3.4", None)),
        ("1.2.3.4:", QueryTarget("1.2.3.4", None)),
        ("1.2.3.4:25566", QueryTarget("1.2.3.4", 25566)),
        ("[::1]:25566", QueryTarget("::1", 25566)),
        ("[2001:db8::1]", QueryTarget("2001:db8::1", None)),
        ("2001:db8::1", QueryTarget("2001:db8::1", None)),
        ("::1", QueryTarget("::1", None)),
        ("我的世界.中国:19132", QueryTarget("我的世界.中国".encode("idna").decode(), 19132)),
        ("_srv-host.example", QueryTarget("_srv-host.example", None)),
    ],
)
def test_parse_target(text: str | None, expected: QueryTarget) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text",
    ["host:0", "host:65536", "host:port", "host:-1", "[::1", "[::1]x", "[1.2.3.4]:5", "[nothost]:1",
     "1::2::3", "bad host", "a..b", "-lead.example", "x" * 64 + ".example", "host:２５", "ex/ample", "a:b:c"],
)
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_target(text)
    assert info.value.exit_code == 2
    assert text in str(info.value)


def test_plans_follow_the_spec_ports_and_family_order() -> None:
    (java, bedrock) = plans_for("all")
    assert (java.families, bedrock.families) == ((6, 4), (6, 4))
    assert bedrock.default_ports == {6: 19133, 4: 19132}
    assert plans_for("java")[0].families == (4,) and plans_for("java6")[0].families == (6,)
    assert plans_for("bedrock")[0].default_ports[4] == 19132
    assert plans_for("bedrock6")[0].default_ports[6] == 19133
    with pytest.raises(ValueError, match="unknown query kind"):
        plans_for("quake")


def test_order_srv_priority_then_weight() -> None:
    records = [(20, 0, 3, "c.example"), (10, 0, 1, "a.example"), (10, 100, 2, "b.example"), (5, 0, 9, ".")]
    for seed in range(20):
        ordered = order_srv(records, random.Random(seed))
        assert set(ordered[:2]) == {("a.example", 1), ("b.example", 2)}
        assert ordered[2:] == [("c.example", 3)]  # the "." record (no service) is dropped
    firsts = [order_srv([(1, 90, 1, "heavy"), (1, 10, 2, "light")], random.Random(seed))[0][0] for seed in range(400)]
    assert 300 < firsts.count("heavy") < 395  # about 90 %
    assert order_srv([(0, 0, 0, ".")]) == []


def test_order_srv_lower_priority_value_always_first() -> None:
    for seed in range(50):
        ordered = order_srv([(20, 1000, 2, "backup"), (10, 1, 1, "main")], random.Random(seed))
        assert ordered == [("main", 1), ("backup", 2)]


# --------------------------------------------------------------------------- run_query on loopback


@asynccontextmanager
async def bedrock_on(host: str, text: str, port: int = 0) -> AsyncIterator[mcfakes.BedrockServerHandle]:
    server = await mcfakes.start_bedrock(mcfakes.BedrockFake(text), host, port)
    try:
        yield server
    finally:
        server.close()


@asynccontextmanager
async def dns_serving(records: dict[tuple[str, str], list[str]]) -> AsyncIterator[mcfakes.DnsHandle]:
    server = await mcfakes.start_dns(records)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.asyncio
async def test_single_family_kinds_on_literals(capsys: pytest.CaptureFixture[str]) -> None:
    async with mcfakes.JavaFake(mcfakes.modern(java_status("v4"))) as j4, \
            mcfakes.JavaFake(mcfakes.modern(java_status("v6")), "::1") as j6, \
            bedrock_on("127.0.0.1", mcfakes.pong_string(motd="b4")) as b4, \
            bedrock_on("::1", mcfakes.pong_string(motd="b6", motd2=None)) as b6:
        assert await run_query("java", f"127.0.0.1:{j4.port}", timeout=2) == 0
        assert await run_query("java6", f"[::1]:{j6.port}", timeout=2) == 0
        assert await run_query("bedrock", f"127.0.0.1:{b4.port}", timeout=2) == 0
        assert await run_query("bedrock6", f"[::1]:{b6.port}", timeout=2) == 0
        # A literal of the other family has nothing to ask: offline, still exit 0.
        assert await run_query("java6", f"127.0.0.1:{j4.port}", timeout=2) == 0
    out = lines_of(capsys)
    assert out[0] == ('MCJE: {"version": {"name": "1.21.1", "protocol": 767}, "description": ["v4"], '
                      '"players": {"max": 10, "online": 1, "list": ["p_v4"]}}')
    assert description(out[1], "MCJE") == ["v6"]
    assert out[2] == ('MCBE: {"version": {"name": "1.21.2", "protocol": 712}, "description": ["b4", "Bedrock level"], '
                      '"players": {"max": 10, "online": 0}}')
    assert description(out[3], "MCBE") == ["b6"]
    assert out[4] == "MCJE: 服务器离线"
    assert len(out) == 5


@asynccontextmanager
async def four_servers(port: int, tags: dict[str, str]) -> AsyncIterator[None]:
    """Java and Bedrock on ``port`` for each family whose tag is given ("java4", "bedrock6", ...)."""
    async with AsyncExitStack() as stack:
        for family, host in (("4", "127.0.0.1"), ("6", "::1")):
            if f"java{family}" in tags:
                await stack.enter_async_context(
                    mcfakes.JavaFake(mcfakes.modern(java_status(tags[f"java{family}"])), host, port))
            if f"bedrock{family}" in tags:
                await stack.enter_async_context(
                    bedrock_on(host, mcfakes.pong_string(motd=tags[f"bedrock{family}"], motd2=None), port))
        yield


ALL_FOUR = {"java4": "j4", "java6": "j6", "bedrock4": "b4", "bedrock6": "b6"}


@pytest.mark.asyncio
async def test_all_on_dual_stack_name_prefers_ipv6_and_port_serves_both(capsys: pytest.CaptureFixture[str]) -> None:
    port = mcfakes.free_port_everywhere()
    records = {("dual.test.", "A"): ["127.0.0.1"], ("dual.test.", "AAAA"): ["::1"]}
    async with dns_serving(records) as dns_server, four_servers(port, ALL_FOUR):
        assert await run_query("all", f"dual.test:{port}", timeout=2, resolver=dns_server.resolver()) == 0
        assert await run_query("java", f"dual.test:{port}", timeout=2, resolver=dns_server.resolver()) == 0
        assert await run_query("bedrock", f"dual.test:{port}", timeout=2, resolver=dns_server.resolver()) == 0
    out = lines_of(capsys)
    assert [description(out[0], "MCJE"), description(out[1], "MCBE")] == [["j6"], ["b6"]]
    assert [description(out[2], "MCJE"), description(out[3], "MCBE")] == [["j4"], ["b4"]]
    # An explicit port: no SRV question was asked.
    assert not any(t == "SRV" for _, t in dns_server.server.queries)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("records", "servers", "expected"),
    [
        ({("v4only.test.", "A"): ["127.0.0.1"]}, ALL_FOUR, (["j4"], ["b4"])),
        ({("v6only.test.", "AAAA"): ["::1"]}, ALL_FOUR, (["j6"], ["b6"])),
        # Dual-stack name but the service listens on IPv4 only: IPv6 fails, IPv4 answers.
        ({("half.test.", "A"): ["127.0.0.1"], ("half.test.", "AAAA"): ["::1"]},
         {"java4": "j4", "bedrock4": "b4"}, (["j4"], ["b4"])),
        ({("half.test.", "A"): ["127.0.0.1"], ("half.test.", "AAAA"): ["::1"]},
         {"java6": "j6"}, (["j6"], None)),
    ],
)
async def test_all_on_single_stack_names(
    capsys: pytest.CaptureFixture[str],
    records: dict[tuple[str, str], list[str]],
    servers: dict[str, str],
    expected: tuple[list[str] | None, list[str] | None],
) -> None:
    port = mcfakes.free_port_everywhere()
    name = next(iter(records))[0].rstrip(".")
    async with dns_serving(records) as dns_server, four_servers(port, servers):
        assert await run_query("all", f"{name}:{port}", timeout=1, resolver=dns_server.resolver()) == 0
    java_line, bedrock_line = lines_of(capsys)
    for line, label, want in ((java_line, "MCJE", expected[0]), (bedrock_line, "MCBE", expected[1])):
        if want is None:
            assert line == f"{label}: 服务器离线"
        else:
            assert description(line, label) == want


@pytest.mark.asyncio
async def test_srv_only_name_steers_each_edition(capsys: pytest.CaptureFixture[str]) -> None:
    async with mcfakes.JavaFake(mcfakes.modern(java_status("srv"))) as java, \
            bedrock_on("127.0.0.1", mcfakes.pong_string(motd="srv-b", motd2=None)) as bedrock:
        records = {
            ("_minecraft._tcp.play.test.", "SRV"): [f"10 0 {java.port} box.test."],
            ("_minecraft._udp.play.test.", "SRV"): [f"10 0 {bedrock.port} box.test."],
            ("box.test.", "A"): ["127.0.0.1"],
        }
        async with dns_serving(records) as dns_server:
            resolver = dns_server.resolver()
            assert await run_query("java", "play.test", timeout=2, resolver=resolver) == 0
            assert await run_query("bedrock", "play.test", timeout=2, resolver=resolver) == 0
            assert await run_query("all", "play.test", timeout=1, resolver=resolver) == 0
    out = lines_of(capsys)
    assert description(out[0], "MCJE") == ["srv"]
    assert description(out[1], "MCBE") == ["srv-b"]
    assert description(out[2], "MCJE") == ["srv"] and description(out[3], "MCBE") == ["srv-b"]
    # The handshake names what the user typed (virtual-host proxies route on it), on the SRV port.
    assert {(h.host, h.port) for h in java.handshakes} == {("play.test", java.port)}
    assert ("_minecraft._tcp.play.test.", "SRV") in dns_server.server.queries


@pytest.mark.asyncio
async def test_srv_priority_and_dead_first_target(capsys: pytest.CaptureFixture[str]) -> None:
    dead = _closed_tcp_port()
    async with mcfakes.JavaFake(mcfakes.modern(java_status("backup"))) as java:
        records = {
            ("_minecraft._tcp.prio.test.", "SRV"): [f"1 0 {dead} main.test.", f"5 0 {java.port} main.test."],
            ("main.test.", "A"): ["127.0.0.1"],
        }
        async with dns_serving(records) as dns_server:
            await run_query("java", "prio.test", timeout=2, resolver=dns_server.resolver())
    assert description(lines_of(capsys)[0], "MCJE") == ["backup"]


@pytest.mark.asyncio
async def test_no_srv_falls_back_to_default_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with mcfakes.JavaFake(mcfakes.modern(java_status("default"))) as java:
        monkeypatch.setattr(query, "JAVA_PORT", java.port)
        async with dns_serving({("plain.test.", "A"): ["127.0.0.1"]}) as dns_server:
            await run_query("java", "plain.test", timeout=2, resolver=dns_server.resolver())
    assert description(lines_of(capsys)[0], "MCJE") == ["default"]
    assert ("_minecraft._tcp.plain.test.", "SRV") in dns_server.server.queries


@pytest.mark.asyncio
async def test_no_target_means_this_machine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = mcfakes.free_port_everywhere()
    monkeypatch.setattr(query, "JAVA_PORT", port)
    monkeypatch.setattr(query, "BEDROCK_PORT_V4", port)
    monkeypatch.setattr(query, "BEDROCK_PORT_V6", port)
    async with four_servers(port, ALL_FOUR):
        for kind in ("java", "java6", "bedrock", "bedrock6", "all"):
            assert await run_query(kind, None, timeout=2) == 0
        assert await run_query("java", f":{port}", timeout=2) == 0
    out = lines_of(capsys)
    got = [description(line, line[:4]) for line in out]
    assert got == [["j4"], ["j6"], ["b4"], ["b6"], ["j6"], ["b6"], ["j4"]]


@pytest.mark.asyncio
async def test_offline_and_english(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port = mcfakes.free_port_everywhere()  # nothing listens there
    assert await run_query("all", f"127.0.0.1:{port}", timeout=0.5) == 0
    monkeypatch.setenv("NAT1_LANG", "en")
    i18n.set_language(None)
    assert await run_query("all", f"[::1]:{port}", timeout=0.5) == 0
    assert lines_of(capsys) == ["MCJE: 服务器离线", "MCBE: 服务器离线", "MCJE: server offline", "MCBE: server offline"]


@pytest.mark.asyncio
async def test_unknown_name_is_offline(capsys: pytest.CaptureFixture[str]) -> None:
    async with dns_serving({("other.test.", "A"): ["127.0.0.1"]}) as dns_server:
        assert await run_query("all", "nowhere.test", timeout=1, resolver=dns_server.resolver()) == 0
    assert lines_of(capsys) == ["MCJE: 服务器离线", "MCBE: 服务器离线"]


@pytest.mark.asyncio
async def test_slow_and_garbage_servers_are_offline_in_bounded_time(capsys: pytest.CaptureFixture[str]) -> None:
    loop = asyncio.get_running_loop()
    async with mcfakes.JavaFake(mcfakes.silent()) as slow, mcfakes.JavaFake(mcfakes.raw_reply(b"\x03\x00\x01{")) as bad:
        started = loop.time()
        await asyncio.gather(run_query("java", f"127.0.0.1:{slow.port}", timeout=0.5),
                             run_query("java", f"127.0.0.1:{bad.port}", timeout=0.5))
        assert loop.time() - started < 2
    assert lines_of(capsys) == ["MCJE: 服务器离线", "MCJE: 服务器离线"]


@pytest.mark.asyncio
async def test_bad_target_raises_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError):
        await run_query("all", "[::1", timeout=1)
    assert capsys.readouterr().out == ""


def _closed_tcp_port() -> int:
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port
