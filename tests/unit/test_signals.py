"""signals.py without a process: the early forced-exit line matches the catalogue, phases."""

from __future__ import annotations

import logging

import pytest

from nat1_traversal import i18n
from nat1_traversal.log import format_line
from nat1_traversal.signals import EARLY_FORCED, SignalGuard, Stopped


@pytest.mark.parametrize("language", ["zh", "en"])
def test_early_forced_line_is_the_catalogue_line(language: str) -> None:
    i18n.set_language(language)
    assert EARLY_FORCED[language] == format_line(logging.WARNING, i18n.t("keeper.forced_exit"))


def test_a_signal_before_the_loop_is_acted_on_at_the_next_check() -> None:
    guard = SignalGuard()
    guard._handle(15, None)  # what the handler does, without sending a signal
    assert guard.received == 15
    with pytest.raises(Stopped):
        guard.check()


def test_a_signal_while_waiting_on_the_user_raises_at_once() -> None:
    guard = SignalGuard()
    with pytest.raises(Stopped), guard.interruptible():
        guard._handle(1, None)


def test_after_finish_a_first_signal_is_only_noted() -> None:
    guard = SignalGuard()
    guard.finish()
    guard._handle(15, None)
    guard.check()
    assert guard.received == 15
