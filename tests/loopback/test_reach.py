"""SPEC section 13 on 127.0.0.1: the checker HTTP client, one round, the monitor's log lines,
and the wiring into a running service. Every checker here is a server the test starts."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
import pytest_asyncio

from nat1_traversal.app import Service, run_service
from nat1_traversal.errors import NetTimeout, ProtocolError
from nat1_traversal.model import Endpoint, Mapping
from nat1_traversal.reach.check import Outcome, check_round
from nat1_traversal.reach.checkers import Checker, from_templates
from nat1_traversal.reach.http import MAX_BODY_BYTES, http_get
from nat1_traversal.reach.monitor import ReachMonitor
from tests.support.app_kit import FakePublisher, Fakes, fakes  # noqa: F401  (fixture)
from tests.support.keeper_kit import FAST, LO
from tests.support.status_kit import get
from tests.support.util import free_port, wait_until

Reply = Callable[[str], bytes]


class Checkers:
    """An HTTP server on 127.0.0.1 whose reply per path the test sets (``answer``)."""

    def __init__(self) -> None:
        self.answer: Reply = lambda path: b"1"
        self.paths: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> Checkers:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    def template(self, path: str = "/check/{ip}/{port}/{proto}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        self.paths.append(path)
        writer.write(self.answer(path))
        await writer.drain()
        writer.close()

    async def aclose(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def http(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


@pytest_asyncio.fixture
async def checker() -> AsyncIterator[Checkers]:
    server = await Checkers().start()
    yield server
    await server.aclose()


@pytest_asyncio.fixture
async def listener() -> AsyncIterator[int]:
    """A TCP listener standing in for the service behind the mapping (hairpin target)."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


def mapping_to(port: int) -> Mapping:
    return Mapping("tcp", Endpoint(LO, 25565), Endpoint(LO, port))


# --------------------------------------------------------------------------- the HTTP client


@pytest.mark.asyncio
async def test_http_get_reads_the_forms_of_a_body(checker: Checkers) -> None:
    checker.answer = lambda path: {
        "/length": http(b"1"),
        "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ntrue\r\n0\r\n\r\n",
        "/close": b"HTTP/1.0 200 OK\r\n\r\n0",
        "/missing": http(b"nope", "404 Not Found"),
    }[path]
    base = f"http://127.0.0.1:{checker.port}"
    assert (await http_get(base + "/length", timeout=2)).body == b"1"
    assert (await http_get(base + "/chunked", timeout=2)).body == b"true"
    assert (await http_get(base + "/close", timeout=2)).body == b"0"
    missing = await http_get(base + "/missing", timeout=2)
    assert (missing.status, missing.peer) == (404, "127.0.0.1")


@pytest.mark.asyncio
async def test_http_get_caps_and_deadline(checker: Checkers) -> None:
    checker.answer = lambda path: http(b"x" * (MAX_BODY_BYTES + 1))
    with pytest.raises(ProtocolError):
        await http_get(checker.template("/big"), timeout=2)
    checker.answer = lambda path: b"garbage\r\n\r\n"
    with pytest.raises(ProtocolError):
        await http_get(checker.template("/bad"), timeout=2)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NetTimeout):
        await http_get(f"http://127.0.0.1:{port}/x?token=secret", timeout=0.3)
    assert loop.time() - started < 1.0
    server.close()


# --------------------------------------------------------------------------- one round


@pytest.mark.asyncio
async def test_hairpin_alone_counts_as_reachable(listener: int) -> None:
    outcome = await check_round("tcp", mapping_to(listener), ())
    assert outcome == Outcome(True, "hairpin", True, ())


@pytest.mark.asyncio
async def test_failed_hairpin_proves_nothing() -> None:
    outcome = await check_round("tcp", mapping_to(free_port()), (), hairpin_timeout=0.5)
    assert (outcome.reachable, outcome.hairpin) == (None, False)


@pytest.mark.asyncio
async def test_a_checkers_unreachable_beats_a_working_hairpin(checker: Checkers, listener: int) -> None:
    """Hairpin traffic turns around inside the router: a port the ISP blocks still hairpins."""
    checker.answer = lambda path: http(b"0")
    outcome = await check_round("tcp", mapping_to(listener), from_templates((checker.template(),)))
    assert (outcome.reachable, outcome.by, outcome.hairpin) == (False, f"127.0.0.1:{checker.port}", True)
    assert checker.paths == [f"/check/127.0.0.1/{listener}/tcp"]


@pytest.mark.asyncio
async def test_unknown_answers_go_to_the_next_checker(checker: Checkers) -> None:
    checker.answer = lambda path: http(b"maybe") if path.startswith("/a") else http(b'{"reachable": true}')
    templates = (checker.template("/a/{port}"), checker.template("/b/{ip}/{port}"))
    outcome = await check_round("tcp", mapping_to(free_port()), from_templates(templates), hairpin_timeout=0.5)
    assert outcome.reachable is True
    assert [verdict for _host, verdict in outcome.checker_verdicts] == ["unknown", "reachable"]
    assert len(checker.paths) == 2


@pytest.mark.asyncio
async def test_a_checker_that_tested_another_address_is_not_believed(checker: Checkers) -> None:
    checker.answer = lambda path: http(b'{"ip": "198.51.100.9", "reachable": false}')
    outcome = await check_round("tcp", mapping_to(free_port()), from_templates((checker.template("/{port}"),)),
                                hairpin_timeout=0.5)  # fmt: skip
    assert outcome.reachable is None


# --------------------------------------------------------------------------- the monitor


class Scripted:
    """A check round whose outcomes the test scripts, one per round."""

    def __init__(self, *outcomes: bool | None) -> None:
        self.outcomes = list(outcomes)
        self.rounds = 0

    async def __call__(self, service_type: str, mapping: Mapping, checkers: object) -> Outcome:
        self.rounds += 1
        value = self.outcomes.pop(0) if self.outcomes else None
        return Outcome(value, "checker.test")


async def run_rounds(monitor: ReachMonitor, mapping: Mapping, rounds: int) -> None:
    monitor.new_mapping(mapping)
    task = asyncio.create_task(monitor.run())
    try:
        await wait_until(lambda: monitor.rounds >= rounds)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith("nat1_traversal.reach")]


@pytest.mark.asyncio
async def test_log_lines_once_per_state(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    results: list[bool | None] = []
    script = Scripted(True, True, False, False, None, False, True, True)
    monitor = ReachMonitor("mcje", (), 0.01, keepalive_interval=10, on_result=results.append, check=script)
    mapping = mapping_to(40123)
    await run_rounds(monitor, mapping, 8)
    confirmed = "映射地址 127.0.0.1:40123 已确认可从公网访问"
    assert messages(caplog, logging.INFO) == [confirmed, confirmed]  # first, and on recovery
    warnings = messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and warnings[0].startswith("映射地址 127.0.0.1:40123 无法从公网访问")
    assert "端口转发" in warnings[0]
    assert results[:8] == [True, True, False, False, None, False, True, True]


@pytest.mark.asyncio
async def test_a_new_mapping_is_confirmed_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    monitor = ReachMonitor("mcje", (), 0.01, keepalive_interval=10, check=Scripted(True, True, True, True))
    await run_rounds(monitor, mapping_to(40123), 1)
    await run_rounds(monitor, mapping_to(40124), 2)
    assert messages(caplog, logging.INFO) == [
        "映射地址 127.0.0.1:40123 已确认可从公网访问",
        "映射地址 127.0.0.1:40124 已确认可从公网访问",
    ]


@pytest.mark.asyncio
async def test_a_mapping_lost_between_keepalives_names_the_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def stun_now() -> Mapping:
        return mapping_to(40999)

    monitor = ReachMonitor("mcbe", (), 0.01, keepalive_interval=25, check=Scripted(False), stun_now=stun_now)
    await run_rounds(monitor, mapping_to(40123), 1)
    (warning,) = messages(caplog, logging.WARNING)
    assert warning.startswith("映射地址 127.0.0.1:40123 无法从公网访问")
    assert "keepalive_interval（当前 25 秒）" in warning and "127.0.0.1:40999" in warning


# --------------------------------------------------------------------------- wired into a service


@pytest.mark.asyncio
async def test_service_checks_every_new_mapping_and_every_interval(
    fakes: Fakes, checker: Checkers, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    """Forward mode, a fake STUN that reports the real source (127.0.0.1:port): the
    checker is asked about that mapping at once and again every reach_interval, and the
    result reaches ``on_reachable`` (the status registry's "reachable")."""
    caplog.set_level(logging.INFO)
    fakes.rule.outer = None
    echo = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    local = Endpoint(LO, free_port())
    config = replace(
        fakes.config(type="tcp", local=local, remote=Endpoint(LO, echo.sockets[0].getsockname()[1])),
        reach=True, reach_check=(checker.template(),), reach_interval=0.2,
    )  # fmt: skip
    results: list[bool | None] = []
    service = Service(config, timing=FAST, publisher=FakePublisher(), on_reachable=results.append)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: len(checker.paths) >= 3)
        assert set(checker.paths) == {f"/check/127.0.0.1/{local.port}/tcp"}
        assert results[:3] == [True, True, True]
        assert messages(caplog, logging.INFO).count(f"映射地址 127.0.0.1:{local.port} 已确认可从公网访问") == 1
        checker.answer = lambda path: http(b"0")
        await wait_until(lambda: results[-1:] == [False])
        warned = f"映射地址 127.0.0.1:{local.port} 无法从公网访问"
        # The WARNING follows a STUN question and one more round (was it lost between keepalives?).
        await wait_until(lambda: any(m.startswith(warned) for m in messages(caplog, logging.WARNING)))
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
        echo.close()


@pytest.mark.asyncio
async def test_reach_false_checks_nothing(fakes: Fakes, checker: Checkers) -> None:  # noqa: F811
    fakes.rule.outer = None
    local = Endpoint(LO, free_port())
    config = replace(fakes.config(type="tcp", local=local, remote=Endpoint(LO, 9)), reach_check=(checker.template(),))
    assert config.reach is False
    publisher = FakePublisher()
    service = Service(config, timing=FAST, publisher=publisher)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_service(config, stop=stop, service=service))
    try:
        await wait_until(lambda: len(publisher.items) == 1)
        await asyncio.sleep(0.3)  # a few keepalives: no check may come
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
    assert service.reach is None and checker.paths == []


def test_checkers_are_plain_values() -> None:
    assert Checker("http://x/{port}") == Checker("http://x/{port}")
    assert ipaddress.ip_address("127.0.0.1") == LO


@pytest.mark.asyncio
async def test_a_mapping_forgotten_and_reopened_names_the_interval(caplog: pytest.LogCaptureFixture) -> None:
    """The NAT forgot the idle mapping and re-made the same one on the next packet (our
    STUN question): unreachable, then reachable at once, is the keepalive's fault."""
    caplog.set_level(logging.INFO)
    mapping = mapping_to(40123)

    async def stun_now() -> Mapping:
        return mapping

    script = Scripted(True, False, True)
    monitor = ReachMonitor("mcbe", (), 0.01, keepalive_interval=30, check=script, stun_now=stun_now)
    await run_rounds(monitor, mapping, 2)
    (warning,) = messages(caplog, logging.WARNING)
    assert "NAT 在两次保活之间忘记了这个映射" in warning and "keepalive_interval（当前 30 秒）" in warning
    assert script.rounds == 3  # the round right after the STUN question


@pytest.mark.asyncio
async def test_a_checker_that_sees_another_ip_is_named_once(
    checker: Checkers, caplog: pytest.LogCaptureFixture
) -> None:
    """Our requests leave through another public IP than STUN saw (a proxy): said once per
    mapping, and the answer does not count."""
    caplog.set_level(logging.INFO)
    checker.answer = lambda path: http(b'{"ip": "198.51.100.9", "port": 1, "reachable": false}')
    monitor = ReachMonitor(
        "mcje", from_templates((checker.template("/port/{port}"),)), 0.01, keepalive_interval=10, hairpin_timeout=0.3
    )
    await run_rounds(monitor, mapping_to(free_port()), 3)
    warnings = messages(caplog, logging.WARNING)
    assert len(warnings) == 1 and "198.51.100.9" in warnings[0] and "geosite:category-stun" in warnings[0]
    assert monitor.last is not None and monitor.last.reachable is None


@pytest.mark.asyncio
async def test_reachable_reaches_the_status_api_and_metrics(fakes: Fakes, checker: Checkers) -> None:  # noqa: F811
    """SPEC section 12: ``reachable`` in /api/status and ``nat1_reachable`` in /metrics."""
    fakes.rule.outer = None  # the mapping is the real source: 127.0.0.1:<port>
    status_port = free_port()
    local = Endpoint(LO, free_port())
    config = replace(
        fakes.config(type="tcp", local=local, remote=Endpoint(LO, 9), status=Endpoint(LO, status_port)),
        reach=True, reach_check=(checker.template(),), reach_interval=0.2,
    )  # fmt: skip
    checker.answer = lambda path: http(b"0")
    stop = asyncio.Event()
    runner = asyncio.create_task(
        run_service(config, stop=stop, service=Service(config, timing=FAST, publisher=FakePublisher()))
    )
    name = f"tcp-{local.port}"
    seen: list[object] = []

    async def reachable() -> object:
        try:
            reply = await get(status_port, "/api/status")
        except OSError:
            return "down"
        value = json.loads(reply.body)["services"][0]["reachable"]
        seen.append(value)
        return value

    try:
        for want, sample in ((False, f'nat1_reachable{{service="{name}"}} 0.0'),
                             (True, f'nat1_reachable{{service="{name}"}} 1.0')):  # fmt: skip
            if want:
                checker.answer = lambda path: http(b"1")
            deadline = asyncio.get_running_loop().time() + 10
            while await reachable() is not want:
                assert asyncio.get_running_loop().time() < deadline, seen
                await asyncio.sleep(0.05)
            assert sample in (await get(status_port, "/metrics")).text
    finally:
        stop.set()
        assert await asyncio.wait_for(runner, 2) == 0
