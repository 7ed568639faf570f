"""The forwarders' small shared pieces: the per-source key, the log throttle and
the STUN reply shape (pure, no sockets)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from nat1_traversal.forward import common
from nat1_traversal.forward.common import Throttle, source_of
from nat1_traversal.forward.udp_session import stun_reply, stun_shaped


@pytest.mark.parametrize(
    ("addr", "key"),
    [
        (("203.0.113.5", 4000), "203.0.113.5"),
        (("::ffff:203.0.113.5", 4000, 0, 0), "203.0.113.5"),
        (("2001:db8:1:2:aaaa::1", 4000, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:ffff:ffff:ffff:fffe", 1, 0, 0), "2001:db8:1:2::/64"),  # same home line
        (("2001:db8:1:3::1", 1, 0, 0), "2001:db8:1:3::/64"),  # another one
        (("fe80::1%eth0", 1, 0, 2), "fe80::/64"),
    ],
)
def test_per_source_key(addr: tuple[object, ...], key: str) -> None:
    assert source_of(addr) == key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(common, "time", SimpleNamespace(monotonic=fake))
    return fake


def test_throttle_logs_once_per_interval_and_says_what_it_left_out(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    throttle = Throttle(logging.getLogger("t"), "forward.connect_failed", interval=10.0)
    for i in range(500):
        throttle(client=f"198.51.100.1:{i}", remote="127.0.0.1:1", error="refused")
    assert len(caplog.records) == 1 and "198.51.100.1:0" in caplog.records[0].getMessage()
    throttle.flush()  # the interval is not over: still one line
    assert len(caplog.records) == 1
    clock.now += 10.0
    throttle.flush()
    assert len(caplog.records) == 2
    last = caplog.records[1].getMessage()
    assert "198.51.100.1:499" in last and "已省略 498 条" in last  # 1 + 1 + 498 = 500
    throttle.flush(force=True)  # nothing left: no line
    assert len(caplog.records) == 2
    clock.now += 60.0
    throttle(client="198.51.100.2:1", remote="127.0.0.1:1", error="refused")
    assert len(caplog.records) == 3 and "省略" not in caplog.records[2].getMessage()


def test_counted_throttle_puts_the_true_count_in_the_message(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    throttle = Throttle(logging.getLogger("t"), "forward.tcp_cap", counted=True)
    for _ in range(4000):
        throttle(limit=512, client="198.51.100.1:1")
    throttle.flush(force=True)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "共拒绝 1 个" in messages[0] and "共拒绝 3999 个" in messages[1]


def test_throttle_flush_timer(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    timers: list[tuple[float, object]] = []

    def call_later(delay: float, callback: object) -> object:
        timers.append((delay, callback))
        return None

    throttle = Throttle(logging.getLogger("t"), "forward.udp_cap", counted=True, call_later=call_later)
    throttle(limit=2, client="a")
    throttle(limit=2, client="b")
    throttle(limit=2, client="c")
    assert len(timers) == 1 and 0 < timers[0][0] <= 10.01  # one timer, at the end of the interval
    clock.now += 10.0
    callback = timers[0][1]
    assert callable(callback)
    callback()
    assert [("共丢弃 2 个" in r.getMessage()) for r in caplog.records] == [False, True]


def stun(kind: int, body_len: int, total: int | None = None) -> bytes:
    data = kind.to_bytes(2, "big") + body_len.to_bytes(2, "big") + b"\x21\x12\xa4\x42" + b"t" * 12
    return data + b"\0" * (body_len if total is None else total - 20)


def test_stun_reply_shape() -> None:
    assert stun_reply(stun(0x0101, 12), 32)  # Binding success
    assert stun_reply(stun(0x0111, 8), 28)  # Binding error
    assert not stun_reply(stun(0x0001, 0), 20)  # a request is not a reply
    assert not stun_reply(stun(0x0011, 0), 20)  # nor an indication
    assert not stun_reply(stun(0x0101, 0, total=31), 31)  # length field does not match
    assert not stun_reply(b"\x01\x01\x00\x00" + b"\x00" * 16, 20)  # no magic cookie
    assert not stun_reply(stun(0x0101, 0)[:19], 19)
    assert stun_shaped(stun(0x0001, 0), 20) and not stun_shaped(b"\x80" + stun(0x0001, 0)[1:], 20)
