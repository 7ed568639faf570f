"""The notifier's schedule (SPEC section 15) with a scripted transport: once per URL per
mapping, retries to the failed URLs only, the newest mapping wins, nothing blocks."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time

import pytest

from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.notify import Notifier, NotifyContext, NotifyRetry

URLS = (Secret("json://127.0.0.1:9/a"), Secret("form://127.0.0.1:9/b"))
FAST = NotifyRetry(first_delay=0.05, max_delay=0.2, jitter=0.0)
CONTEXT = NotifyContext("java", "mcje", "example.com", "mc.example.com")


def mapping(port: int) -> Mapping:
    return Mapping("tcp", Endpoint(ipaddress.ip_address("192.168.1.2"), 25565),
                   Endpoint(ipaddress.ip_address("203.0.113.7"), port))


class ScriptedTransport:
    """Fails URL i ``failures[i]`` times, then delivers; can hold every send until released."""

    def __init__(self, failures: dict[int, int] | None = None, *, hold: bool = False, refuse: str = "\0") -> None:
        self.failures = dict(failures or {})
        self.refuse = refuse  # a body that is refused every time
        self.sent: list[tuple[int, str]] = []
        self.delivered: list[tuple[int, str]] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._lock = threading.Lock()
        self.changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def send(self, index: int, title: str, body: str) -> tuple[bool, str]:
        with self._lock:
            self.sent.append((index, body))
        self._loop.call_soon_threadsafe(self.changed.set)
        self.release.wait(10)
        with self._lock:
            if body == self.refuse:
                return False, "scripted refusal"
            if self.failures.get(index, 0) > 0:
                self.failures[index] -= 1
                return False, "scripted failure"
            self.delivered.append((index, body))
        self._loop.call_soon_threadsafe(self.changed.set)
        return True, ""

    async def until(self, count: int, *, delivered: bool = True, timeout: float = 5.0) -> None:
        async def reached() -> None:
            while len(self.delivered if delivered else self.sent) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), timeout)


@pytest.mark.asyncio
async def test_one_message_per_url_per_mapping() -> None:
    transport = ScriptedTransport()
    notifier = Notifier(URLS, None, CONTEXT, retry=FAST, transport=transport)
    notifier.submit(mapping(40000))
    notifier.submit(mapping(40000))  # unchanged: nothing more to send
    await notifier.wait_sent()
    notifier.submit(mapping(40000))
    await asyncio.sleep(0.1)
    await notifier.aclose()
    assert sorted(index for index, _ in transport.sent) == [0, 1]
    assert all("203.0.113.7:40000" in body for _, body in transport.sent)


@pytest.mark.asyncio
async def test_only_the_failed_url_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    transport = ScriptedTransport({1: 2})
    notifier = Notifier(URLS, "{address}", CONTEXT, retry=FAST, transport=transport)
    with caplog.at_level("DEBUG", logger="nat1_traversal"):
        notifier.submit(mapping(40001))
        await notifier.wait_sent()
        await notifier.aclose()
    assert [index for index, _ in transport.sent].count(0) == 1
    assert [index for index, _ in transport.sent].count(1) == 3
    assert sorted(transport.delivered) == [(0, "203.0.113.7:40001"), (1, "203.0.113.7:40001")]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "notify[1] (form)" in warnings[0].getMessage()  # the repeat is DEBUG


@pytest.mark.asyncio
async def test_the_newest_mapping_wins() -> None:
    transport = ScriptedTransport(refuse="40002")  # the old mapping never gets through
    notifier = Notifier(URLS, "{port}", CONTEXT, retry=FAST, transport=transport)
    notifier.submit(mapping(40002))
    await transport.until(4, delivered=False)  # first tries and one retry each
    notifier.submit(mapping(40003))
    await notifier.wait_sent()
    sent_before = len(transport.sent)
    await asyncio.sleep(FAST.max_delay * 2)  # the old mapping's retries would show up now
    await notifier.aclose()
    assert len(transport.sent) == sent_before
    assert sorted(transport.delivered) == [(0, "40003"), (1, "40003")]


@pytest.mark.asyncio
async def test_submit_never_blocks_and_close_is_prompt() -> None:
    transport = ScriptedTransport(hold=True)  # a receiver that does not answer
    notifier = Notifier(URLS, None, CONTEXT, retry=FAST, transport=transport)
    started = time.monotonic()
    notifier.submit(mapping(40004))
    assert time.monotonic() - started < 0.05
    await transport.until(2, delivered=False)
    started = time.monotonic()
    await notifier.aclose()  # the threads are still stuck in send: the close does not wait for them
    assert time.monotonic() - started < 0.5
    transport.release.set()


@pytest.mark.asyncio
async def test_a_transport_that_raises_is_a_failed_send() -> None:
    class Broken:
        calls = 0

        def send(self, index: int, title: str, body: str) -> tuple[bool, str]:
            Broken.calls += 1
            if Broken.calls == 1:
                raise RuntimeError("plugin bug")
            return True, ""

    notifier = Notifier(URLS[:1], None, CONTEXT, retry=FAST, transport=Broken())
    notifier.submit(mapping(40005))
    await notifier.wait_sent()
    await notifier.aclose()
    assert Broken.calls == 2


@pytest.mark.asyncio
async def test_no_urls_means_nothing_runs() -> None:
    notifier = Notifier((), None, CONTEXT)
    notifier.submit(mapping(40006))
    await notifier.wait_sent()
    await notifier.aclose()
