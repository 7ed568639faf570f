"""Whatever a server sends, a query prints one line and exits 0 (no traceback).

Each example runs a real loopback exchange in its own event loop: a fake server
sends the fuzzed bytes, ``run_query`` asks it with a short deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nat1_traversal.query import run_query
from tests.support import mcfakes

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TIMEOUT = 0.3


Starter = Callable[[], AbstractAsyncContextManager[int]]


def _run(kind: str, start: Starter) -> tuple[int, list[str]]:
    """Start the fake (an async context factory), query it, return exit code and printed lines."""

    async def main() -> int:
        async with start() as port:
            return await asyncio.wait_for(run_query(kind, f"127.0.0.1:{port}", timeout=TIMEOUT), 10)

    out = io.StringIO()
    errors = _ErrorRecords()
    logging.getLogger().addHandler(errors)
    try:
        with contextlib.redirect_stdout(out):
            code = asyncio.run(main())
    finally:
        logging.getLogger().removeHandler(errors)
    # asyncio logs an exception escaping a callback or a never-read future at ERROR.
    assert errors.records == [], errors.records
    return code, out.getvalue().splitlines()


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


def _java_with(behaviour: mcfakes.Behaviour) -> Starter:
    @contextlib.asynccontextmanager
    async def start() -> AsyncIterator[int]:
        async with mcfakes.JavaFake(behaviour) as fake:
            yield fake.port
            assert fake.connections >= 1  # the query really reached the fuzzed server

    return start


def _bedrock_with(reply: bytes) -> Starter:
    @contextlib.asynccontextmanager
    async def start() -> AsyncIterator[int]:
        server = await mcfakes.start_bedrock(mcfakes.BedrockFake(reply=reply))
        try:
            yield server.port
            assert server.protocol.pings >= 1  # the query really reached the fuzzed server
        finally:
            server.close()

    return start


def _assert_valid_or_offline(lines: list[str], label: str) -> None:
    assert len(lines) == 1, lines
    line = lines[0]
    if line == f"{label}: 服务器离线":
        return
    data = json.loads(line.removeprefix(f"{label}: "))
    assert set(data) == {"version", "description", "players"}
    assert isinstance(data["version"]["name"], str) and isinstance(data["version"]["protocol"], int)
    assert all(isinstance(x, str) for x in data["description"])


@FUZZ
@given(reply=st.binary(max_size=300))
def test_java_random_bytes_are_offline(reply: bytes) -> None:
    code, lines = _run("java", _java_with(mcfakes.raw_reply(reply)))
    assert code == 0
    assert lines == ["MCJE: 服务器离线"]


json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["version", "players", "description", "name", "protocol", "online", "max", "sample",
                         "text", "extra", "translate", "with"]), inner, max_size=4),
    max_leaves=20,
).map(json.dumps) | st.text(max_size=60)


@FUZZ
@given(text=json_text, packet_id=st.sampled_from([0, 0, 0, 1, 0x7F]))
def test_java_well_framed_random_json_never_crashes(text: str, packet_id: int) -> None:
    reply = mcfakes.packet(packet_id, mcfakes.mc_string(text))
    code, lines = _run("java", _java_with(mcfakes.raw_reply(reply)))
    assert code == 0
    _assert_valid_or_offline(lines, "MCJE")


@FUZZ
@given(kick=st.binary(max_size=120))
def test_java_legacy_fallback_with_random_kick_never_crashes(kick: bytes) -> None:
    # Modern ping: the server hangs up; legacy ping: it answers with fuzzed bytes.
    code, lines = _run("java", _java_with(mcfakes.legacy_only(b"\xff" + struct.pack(">H", len(kick) // 2) + kick)))
    assert code == 0
    _assert_valid_or_offline(lines, "MCJE")


@FUZZ
@given(tail=st.binary(max_size=200), framed=st.booleans())
def test_bedrock_random_replies_are_offline(tail: bytes, framed: bool) -> None:
    reply = (b"\x1c" + bytes(16) + mcfakes.MAGIC + tail) if framed else tail
    code, lines = _run("bedrock", _bedrock_with(reply))
    assert code == 0
    assert lines == ["MCBE: 服务器离线"]


@FUZZ
@given(fields=st.lists(st.text(max_size=12), max_size=12))
def test_bedrock_random_pong_strings_never_crash(fields: list[str]) -> None:
    reply = mcfakes.unconnected_pong(b"\x01" + bytes(32), ";".join(fields))
    code, lines = _run("bedrock", _bedrock_with(reply))
    assert code == 0
    _assert_valid_or_offline(lines, "MCBE")
