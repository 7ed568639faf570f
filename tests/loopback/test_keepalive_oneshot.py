"""Issue 12: a keepalive server that closes the connection after every response (HTTP/1.0, as
``python3 -m http.server`` does) must not make the keeper back off: it reconnects from the same
port every interval. The server here is the standard library's real ``http.server``."""

from __future__ import annotations

import asyncio
import logging
import sys
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from nat1_traversal.keeper import Keeper, TcpPath
from nat1_traversal.model import Endpoint, HostPort
from tests.support.keeper_fakes import FakeStunTcp, MappedRule
from tests.support.keeper_kit import FAST, LO, OUTER_A, Published
from tests.support.util import free_port, hp, wait_until

# Generous deadlines: the real http.server is another Python process, slow on a loaded machine.
TIMING = replace(FAST, keepalive_interval=0.2, reply_timeout=2.0, connect_timeout=2.0)

# http.server's own handler (HTTP/1.0: one response per connection, then close); it logs
# each request's client port on stdout so that the test sees where keepalives come from.
SERVER = r"""
import http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        print(self.command, self.client_address[1], flush=True)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("READY", flush=True)
server.serve_forever()
"""


@pytest_asyncio.fixture
async def http_server(tmp_path: object) -> AsyncIterator[tuple[int, Process]]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, str(port), stdout=asyncio.subprocess.PIPE, cwd=str(tmp_path)
    )
    assert proc.stdout is not None
    assert (await asyncio.wait_for(proc.stdout.readline(), 10)).strip() == b"READY"
    try:
        yield port, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 5)


@pytest_asyncio.fixture
async def stun() -> AsyncIterator[list[FakeStunTcp]]:
    rule = MappedRule()
    rule.outer = OUTER_A
    servers = [await FakeStunTcp(rule).start() for _ in range(2)]
    yield servers
    for server in servers:
        await server.close()


async def read_requests(proc: Process, count: int, timeout: float) -> list[tuple[str, int]]:
    """The next ``count`` request lines the server logged (one deadline for all)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: list[tuple[str, int]] = []

    async def read() -> None:
        while len(lines) < count:
            raw = await stdout.readline()
            if not raw:
                raise AssertionError(f"http.server ended after {lines}")
            method, _, port = raw.decode().strip().partition(" ")
            lines.append((method, int(port)))

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"only {len(lines)} requests in {timeout} s: {lines}") from None
    return lines


async def stop_keeper(task: asyncio.Task[None]) -> None:
    """Cancel until it ends (bounded). This test cancels right when a keepalive reply
    arrives (it reacts to the server's log line), which is when Python < 3.12 can lose a
    cancellation inside ``asyncio.wait_for`` (CPython gh-86296): so ask again."""
    for _ in range(10):
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=0.5)
        if done:
            return
    raise AssertionError("the keeper did not stop")


@pytest.mark.asyncio
async def test_a_server_that_closes_after_each_reply_is_reconnected_every_interval(
    http_server: tuple[int, Process], stun: list[FakeStunTcp], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port, proc = http_server
    local = Endpoint(LO, free_port())
    published = Published()
    path = TcpPath(local, [HostPort("127.0.0.1", port)], TIMING)
    keeper = Keeper(path, [hp(s.addr) for s in stun], submit=published, timing=TIMING)
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        started = loop.time()
        requests = await read_requests(proc, 6, 30)
        elapsed = loop.time() - started
    finally:
        await stop_keeper(task)
    assert {method for method, _ in requests} == {"HEAD"}
    assert {source for _, source in requests} == {local.port}  # always from the service port
    assert keeper.failures == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings, warnings
    assert len(published.items) == 1
    # One request per interval, not a burst (failures == 0 above: no backoff either).
    per_request = elapsed / 6
    print(f"http.server keepalive: one request every {per_request:.3f} s (interval {TIMING.keepalive_interval} s)")
    assert per_request >= 0.6 * TIMING.keepalive_interval


@pytest.mark.asyncio
async def test_a_reconnect_that_fails_means_the_mapping_is_gone(
    http_server: tuple[int, Process], stun: list[FakeStunTcp]
) -> None:
    """The server disappears for good: the keeper re-acquires at once (not a hot loop),
    then backs off on the keepalive that cannot be opened any more."""
    port, proc = http_server
    published = Published()
    path = TcpPath(Endpoint(LO, free_port()), [HostPort("127.0.0.1", port)], TIMING)
    keeper = Keeper(path, [hp(s.addr) for s in stun], submit=published, timing=TIMING)
    task = asyncio.create_task(keeper.run())
    try:
        await wait_until(lambda: len(published.items) == 1)
        await read_requests(proc, 2, 5)
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 5)
        await wait_until(lambda: keeper.failures >= 1, timeout=5)
    finally:
        await stop_keeper(task)
