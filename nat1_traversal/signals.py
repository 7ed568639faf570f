"""The CLI's stop signals (SIGINT, SIGTERM, SIGHUP) for the whole life of the process.

One Python-level handler is installed first thing (``__main__`` and ``cli.main``) and
stays until the process ends; the event loop never registers its own, so there is no
moment where a signal meets the default action (SIGTERM killing with 143, SIGHUP with
129, SIGINT raising ``KeyboardInterrupt`` inside the loop). What a signal does depends
on the phase:

* before the service's loop runs (config loading, imports): nothing is held yet; the
  signal is noted and the CLI stops at the next safe point (``check()`` before the loop,
  ``attach()`` as it starts) and exits 0. Only while waiting on the user (the "create
  a config?" prompt, ``interruptible()``) does the handler raise ``Stopped`` at once:
  raising from a handler anywhere else could land in a callback that ignores it;
* while the service runs (``attach``): the stop callback is scheduled on the loop,
  which stops the service cleanly;
* after that (``detach``) the first signal is only noted: the process is ending.

A second signal at any point exits at once, quietly: one line written straight to
stderr (no logging lock, no buffered stream from inside a signal handler), then
``os._exit(128 + signum)``.

The loop is woken through ``signal.set_wakeup_fd`` on a socket pair the loop reads,
because the signal may be delivered to another thread (the UDP relay, a worker)
while the main thread sleeps in ``epoll``. The wake-up descriptor is given back
before the sockets are closed, so no signal is ever written to a closed descriptor.
SIGHUP that is already ignored (``nohup``) stays ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # kept out of start-up: this module is imported before anything else
    import asyncio
    import socket


class Stopped(BaseException):
    """A stop signal before the service started: unwinds to the CLI, which exits 0.

    A ``BaseException`` so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def stop_signals() -> list[int]:
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return [int(getattr(signal, name)) for name in names if hasattr(signal, name)]


class SignalGuard:
    """See the module docstring. One instance per process: ``GUARD``."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_stop: Callable[[int], None] | None = None
        self._finishing = False
        self._interruptible = False
        self._extra: dict[int, Callable[[], None]] = {}
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._old_wakeup = -1
        self.forced_line: Callable[[], str] = _early_forced_line  # the CLI sets the logged form

    # ----------------------------------------------------------------- install

    def install(self) -> None:
        """Take SIGINT/SIGTERM/SIGHUP (idempotent; only from the main thread)."""
        for signum in stop_signals():
            if signum in self._previous:
                continue
            previous = signal.getsignal(signum)
            if signum == getattr(signal, "SIGHUP", None) and previous is signal.SIG_IGN:
                continue  # nohup: the user asked for SIGHUP to be ignored
            try:
                signal.signal(signum, self._handle)
            except (ValueError, OSError):  # not the main thread
                return
            self._previous[signum] = previous

    def uninstall(self) -> None:
        """Give the signals back (modes other than the service keep Python's defaults)."""
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, previous)
        self._previous.clear()

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    # ----------------------------------------------------------------- phases

    def attach(self, loop: asyncio.AbstractEventLoop, on_stop: Callable[[int], None]) -> None:
        """From inside the running loop: signals now call ``on_stop(signum)`` on the loop."""
        import socket

        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        loop.add_reader(reader.fileno(), self._drain)
        try:
            self._old_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):  # not the main thread: no wake-up, signals still work
            self._old_wakeup = -1
        self._wakeup = (reader, writer)
        self._loop, self._on_stop, self._finishing = loop, on_stop, False
        if self.received is not None:  # its ``Stopped`` fell where exceptions are ignored (a callback)
            loop.call_soon(on_stop, self.received)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait on the user (a prompt): a stop signal raises ``Stopped`` right there."""
        self.check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def check(self) -> None:
        """Raise ``Stopped`` when a stop signal came before the loop (at a safe point)."""
        if self.received is not None and self._on_stop is None and not self._finishing:
            raise Stopped(self.received)

    def add_loop_handler(self, signum: int, callback: Callable[[], None]) -> None:
        """``loop.add_signal_handler`` without the loop touching signals (SIGUSR1/2)."""
        self._extra[signum] = callback
        signal.signal(signum, self._handle_extra)

    def detach(self) -> None:
        """Still inside the loop, before it closes: the loop will not take signals any more."""
        self._finishing = True
        self._on_stop = None
        for signum in list(self._extra):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_DFL)
        self._extra.clear()
        if self._wakeup is None:
            return
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self._old_wakeup)  # first: nothing writes to our socket any more
        reader, writer = self._wakeup
        self._wakeup = None
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()
        self._loop = None

    def finish(self) -> None:
        """The process is ending: a first signal is only noted from now on."""
        self._finishing = True

    # ----------------------------------------------------------------- handlers

    def _drain(self) -> None:
        """The wake-up bytes (signal numbers); the Python handler has run or runs now."""
        if self._wakeup is None:
            return
        with contextlib.suppress(OSError):
            while self._wakeup[0].recv(4096):
                pass

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            self._force(signum)
        self.received = signum
        if self._finishing:
            return
        on_stop, loop = self._on_stop, self._loop
        if on_stop is None or loop is None:
            if self._interruptible:
                raise Stopped(signum)
            return  # noted: ``check()`` / ``attach()`` act on it at the next safe point
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: we are ending anyway
            loop.call_soon_threadsafe(on_stop, signum)

    def _handle_extra(self, signum: int, _frame: FrameType | None) -> None:
        callback, loop = self._extra.get(signum), self._loop
        if callback is not None and loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def _force(self, signum: int) -> None:
        with contextlib.suppress(Exception):
            os.write(2, (self.forced_line() + "\n").encode("utf-8", "replace"))
        os._exit(128 + signum)


# keeper.forced_exit in the plain log format, for a second signal before the catalogue is
# loaded (nothing may be imported inside a signal handler). tests/unit/test_signals.py
# checks that it matches the catalogue.
EARLY_FORCED = {"zh": "[ WARNING] 再次收到退出信号，立即退出", "en": "[ WARNING] Second signal: exiting now"}


def _early_forced_line() -> str:
    return EARLY_FORCED["en" if os.environ.get("NAT1_LANG", "").strip().lower().startswith("en") else "zh"]


GUARD = SignalGuard()
