"""Publisher: newest mapping wins, unchanged mappings are not republished, retries, on_change hook."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from nat1_traversal import publish
from nat1_traversal.backoff import PUBLISH_BACKOFF, Backoff
from nat1_traversal.config import Config, DnsSettings
from nat1_traversal.dns.base import Provider, Record, SrvData
from nat1_traversal.errors import RateLimited
from nat1_traversal.keeper.tracker import MappingTracker
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.publish import Publisher

INNER = Endpoint(ipaddress.ip_address("192.168.1.2"), 25565)


def mapping(port: int) -> Mapping:
    return Mapping("tcp", INNER, Endpoint(ipaddress.ip_address("203.0.113.7"), port))


SETTINGS = DnsSettings(kind="webhook", id="http://127.0.0.1:9/x", token=Secret("t"), domain="example.com",
                       sub_domain="mc")
FAST = Backoff(first_delay=0.01, max_delay=0.02, jitter=0.0)


class ScriptedProvider(Provider):
    """Records every sync; can block until released or fail a number of times."""

    label = "scripted"

    def __init__(self, fail_times: int = 0) -> None:
        super().__init__(SETTINGS)
        self.synced: list[tuple[Record, ...]] = []
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.cancelled = 0
        self.fail_times = fail_times
        self.closed = False

    async def sync(self, records: Sequence[Record]) -> int:
        self.started.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if self.fail_times:
            self.fail_times -= 1
            raise RateLimited("dns.rate_limited", provider="scripted", detail="429")
        self.synced.append(tuple(records))
        return len(records)

    async def aclose(self) -> None:
        self.closed = True


def config(on_change: str | None = None, dns: DnsSettings = SETTINGS) -> Config:
    return Config(type="mcje", dns=dns, on_change=on_change)


async def wait_idle(publisher: Publisher) -> None:
    task = publisher._task
    assert task is not None
    await asyncio.wait_for(asyncio.shield(task), 10)


@pytest.mark.asyncio
async def test_plans_a_and_srv(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    provider = ScriptedProvider()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    await publisher.publish(mapping(34567))
    a, srv = provider.synced[0]
    assert (a.type, a.name, a.data) == ("A", "mc.example.com", "203.0.113.7")
    assert (srv.type, srv.name, srv.data) == ("SRV", "_minecraft._tcp.mc.example.com",
                                             SrvData(10, 0, 34567, "mc.example.com"))
    assert caplog.text.count("DDNS更新成功 mc.example.com -> 203.0.113.7:34567") == 1
    await publisher.aclose()
    assert provider.closed


@pytest.mark.asyncio
async def test_newest_mapping_wins_and_cancels_the_older_publish() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    publisher.submit(mapping(1000))
    await asyncio.wait_for(provider.started.wait(), 5)
    publisher.submit(mapping(2000))
    provider.gate.set()
    await wait_idle(publisher)
    assert provider.cancelled == 1
    assert [r[1].data for r in provider.synced] == [SrvData(10, 0, 2000, "mc.example.com")]
    await publisher.aclose()


@pytest.mark.asyncio
async def test_same_mapping_is_not_published_twice() -> None:
    """The keeper's MappingTracker is the one owner of the current mapping; the publisher
    it feeds keeps no second copy."""
    provider = ScriptedProvider()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    tracker = MappingTracker(publisher.submit)
    tracker.offer(mapping(1000))
    await wait_idle(publisher)
    tracker.offer(mapping(1000))
    await wait_idle(publisher)
    assert len(provider.synced) == 1
    await publisher.aclose()


@pytest.mark.asyncio
async def test_failures_are_retried_without_blocking_submit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = ScriptedProvider(fail_times=3)
    publisher = Publisher(config(), provider=provider, retry=FAST)
    publisher.submit(mapping(1000))  # returns at once
    await wait_idle(publisher)
    assert len(provider.synced) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "the same failure is logged once, not every retry"
    await publisher.aclose()


def test_backoff_is_capped_and_jittered() -> None:
    import random

    policy = PUBLISH_BACKOFF
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 30)]
    assert delays[0] <= 2 and max(delays) <= 300 and delays[-1] >= 300 * 0.8
    assert len({round(d, 6) for d in delays[-5:]}) > 1


@pytest.mark.asyncio
async def test_aclose_cancels_a_publish_in_flight() -> None:
    provider = ScriptedProvider()
    provider.gate = asyncio.Event()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    publisher.submit(mapping(1000))
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.wait_for(publisher.aclose(), 5)
    assert provider.cancelled == 1 and provider.closed


@pytest.mark.asyncio
async def test_no_dns_publishes_nothing_but_runs_the_hook(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "args.txt"
    script = f"import sys; open({str(out)!r}, 'w').write(' '.join(sys.argv[1:]))"
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"
    publisher = Publisher(config(command, dns=DnsSettings()))
    await publisher.publish(mapping(34567))
    await publisher.aclose()
    # SPEC section 11: the service name is the sixth argument, also without "services".
    assert out.read_text() == "tcp 192.168.1.2 25565 203.0.113.7 34567 mcje-0"
    assert "DDNS" not in caplog.text


@pytest.mark.asyncio
async def test_hook_failures_are_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    failing = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(3)'"
    publisher = Publisher(config(failing, dns=DnsSettings()))
    await publisher.publish(mapping(1))
    assert "退出码 3" in caplog.text
    publisher = Publisher(config(str(tmp_path / "does-not-exist"), dns=DnsSettings()))
    await publisher.publish(mapping(1))
    assert "无法运行 on_change" in caplog.text
    slow = f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(30)'"
    publisher = Publisher(config(slow, dns=DnsSettings()), hook_timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await publisher.publish(mapping(1))
    assert loop.time() - started < 10
    assert "已终止" in caplog.text


@pytest.mark.asyncio
async def test_unsplittable_hook_neither_raises_nor_stops_the_dns_publish(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    provider = ScriptedProvider()
    publisher = Publisher(config("notify.sh 'unclosed"), provider=provider, retry=FAST)
    await asyncio.wait_for(publisher.publish(mapping(2000)), 10)
    await publisher.aclose()
    assert len(provider.synced) == 1
    assert "无法运行 on_change" in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("command", "windows", "expected"),
    [
        ("/usr/local/bin/notify 'my server'", False, ["/usr/local/bin/notify", "my server"]),
        (r"C:\tools\notify.bat", True, [r"C:\tools\notify.bat"]),
        (r'"C:\Program Files\nat1\hook.exe" --quiet', True, [r"C:\Program Files\nat1\hook.exe", "--quiet"]),
    ],
)
def test_split_command(command: str, windows: bool, expected: list[str]) -> None:
    from nat1_traversal.command import split_command

    assert split_command(command, windows=windows) == expected


class BuggyOnceProvider(ScriptedProvider):
    """The first sync hits a bug in our own code (a KeyError inside the provider module)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def sync(self, records: Sequence[Record]) -> int:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("id")
        return await super().sync(records)


@pytest.mark.asyncio
@pytest.mark.parametrize("bug", [KeyError("id"), TypeError("bad operand"), AttributeError("no attribute")])
async def test_a_bug_of_ours_surfaces_once_loudly_and_is_not_retried(
    caplog: pytest.LogCaptureFixture, bug: Exception
) -> None:
    """Issue 10: a KeyError/TypeError/AttributeError is not a provider failure. It used to be
    wrapped as "dns.bad_reply" and retried forever, hiding the bug."""

    class Buggy(BuggyOnceProvider):
        async def sync(self, records: Sequence[Record]) -> int:
            self.calls += 1
            raise bug

    provider = Buggy()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    caplog.set_level(logging.INFO)
    try:
        publisher.submit(mapping(34567))
        await wait_idle(publisher)
    finally:
        await publisher.aclose()
    assert provider.calls == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None  # once, with its traceback
    assert "无法识别" not in caplog.text


@pytest.mark.asyncio
async def test_a_bug_of_ours_does_not_stop_the_next_mapping() -> None:
    provider = BuggyOnceProvider()
    publisher = Publisher(config(), provider=provider, retry=FAST)
    try:
        publisher.submit(mapping(1000))
        await wait_idle(publisher)
        publisher.submit(mapping(2000))
        await wait_idle(publisher)
    finally:
        await publisher.aclose()
    assert provider.calls == 2 and len(provider.synced) == 1


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _alive(pid):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)  # another process's state: polling is the only signal
    return True


@pytest.mark.asyncio
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("ending", ["timeout", "shutdown"])
async def test_on_change_is_killed_with_its_whole_process_group(tmp_path: Path, ending: str) -> None:
    """Issue 15: only the hook itself was killed; what it had started was orphaned."""
    child_pid = tmp_path / "child.pid"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {child_pid}\nwait\n")
    hook.chmod(0o755)
    publisher = Publisher(config(str(hook), dns=DnsSettings()), hook_timeout=0.5 if ending == "timeout" else 30)
    pid: int | None = None
    try:
        publisher.submit(mapping(1))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not child_pid.exists() or not child_pid.read_text().strip():
            assert loop.time() < deadline, "the hook did not start its child"
            await asyncio.sleep(0.02)  # a file written by another process
        pid = int(child_pid.read_text())
        assert _alive(pid)
        if ending == "timeout":
            await wait_idle(publisher)
        else:
            await publisher.aclose()
        assert await _wait_dead(pid), "the hook's child outlived it"
    finally:
        await publisher.aclose()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


class RetryAfterProvider(ScriptedProvider):
    """Answers the first sync like a 429 with ``Retry-After``; records when each sync came."""

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.times: list[float] = []

    async def sync(self, records: Sequence[Record]) -> int:
        self.times.append(asyncio.get_running_loop().time())
        if len(self.times) == 1:
            raise RateLimited("dns.rate_limited", provider="scripted", detail="HTTP 429", retry_after=self.retry_after)
        return await super().sync(records)


@pytest.mark.asyncio
async def test_retry_after_is_honoured() -> None:
    """Issue 15: after a 429 with Retry-After: 5 the retries came after 1.7 s and 3.7 s."""
    provider = RetryAfterProvider(5.0)
    publisher = Publisher(config(), provider=provider, retry=FAST)
    try:
        publisher.submit(mapping(1000))
        await wait_idle(publisher)
    finally:
        await publisher.aclose()
    assert len(provider.times) == 2 and len(provider.synced) == 1
    assert provider.times[1] - provider.times[0] >= 5.0


class TimedProvider(ScriptedProvider):
    """Fails ``fail_times`` times, recording when each attempt came."""

    def __init__(self, fail_times: int) -> None:
        super().__init__(fail_times)
        self.times: list[float] = []

    async def sync(self, records: Sequence[Record]) -> int:
        self.times.append(time.monotonic())
        return await super().sync(records)


@pytest.mark.asyncio
@pytest.mark.parametrize("fresh", [True, False])
async def test_a_fresh_mapping_is_retried_at_the_keepalive_pace(monkeypatch: pytest.MonkeyPatch, fresh: bool) -> None:
    """Issue 15's soak: a webhook that failed for 20 s was retried after 16 s, so the new
    address reached players late. While a mapping is fresh its retries wait at most one
    keepalive interval; later the publisher's own backoff takes over again."""
    if not fresh:
        monkeypatch.setattr(publish, "FRESH_WINDOW", 0.0)
    provider = TimedProvider(fail_times=4)
    slow = Backoff(first_delay=0.4, max_delay=100.0, jitter=0.0)  # 0.4, 0.8, 1.6, 3.2 s
    publisher = Publisher(replace(config(), keepalive_interval=1.0), provider=provider, retry=slow)
    try:
        publisher.submit(mapping(1000))
        await wait_idle(publisher)
    finally:
        await publisher.aclose()
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.times)]
    assert len(gaps) == 4 and len(provider.synced) == 1
    if fresh:
        assert max(gaps) < 1.4, gaps  # capped at keepalive_interval (1 s)
    else:
        assert gaps[3] >= 3.2, gaps
