"""The UDP relay off the event loop: one thread running its own ``select.epoll`` loop.

On the standard asyncio loop most of a datagram's forwarding time is the loop's own
work per wake-up (``_run_once``, the selector, handle objects), not ours. Here one
dedicated thread blocks in ``epoll.poll`` (the GIL is released while it waits) on
the listening socket, every session socket and an eventfd, and runs the same
drain-with-FIONREAD batches as the loop design. Only the relay thread touches the
session table while it runs; the event loop reads its size and, through
``UdpForwarder.send``, sends from the listening socket (``sendto`` on one socket
from two threads is safe).

The intercept hook (STUN demultiplexing) must run on the event loop, where the
futures it completes live. While a hook is set, datagrams shaped like STUN (RFC
8489 header: two zero top bits, the magic cookie at bytes 4-7, at least 20 bytes)
are handed to the loop with ``call_soon_threadsafe``; a STUN response the hook
does not claim is dropped (a late or forged reply is never player traffic), any
other unclaimed datagram comes back to the thread through a queue and is relayed
as player traffic. Every other datagram never leaves the thread, so a set hook
costs player traffic two byte compares.

The thread knows its forwarder only through ``udp_session.RelayHost`` (the session
table, the hook, opening and expiring sessions); it owns its own receive buffer.

Expiry runs on the thread too (the ``epoll.poll`` timeout is the sweep timer), so
session open and close lines are logged from it (logging is thread-safe).
``stop()`` wakes the thread through the eventfd and joins it off the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import select
import socket
import threading
import time

from nat1_traversal.forward.bedrock import rewrite_pong
from nat1_traversal.forward.udp_session import (
    BATCH,
    DATAGRAM_BUFFER_SIZE,
    STUN_COOKIE,
    Address,
    Intercept,
    RelayHost,
    Session,
    queued,
    stun_reply,
)

_COOKIE = STUN_COOKIE
_IN = getattr(select, "EPOLLIN", 1)  # imported everywhere, used on Linux only


class EpollRelay:
    """Runs one forwarder's datagram relay on a thread of its own."""

    def __init__(
        self, host: RelayHost, sock: socket.socket, remote: Address, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._fwd = host
        self._sock = sock
        self._remote = remote
        self._loop = loop
        self._buf = bytearray(DATAGRAM_BUFFER_SIZE)
        self._view = memoryview(self._buf)
        self._epoll = select.epoll()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._by_fd: dict[int, Session] = {}
        self._replay: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._stopping = False
        self._listen_fd = -1
        self._thread = threading.Thread(target=self._run, name="nat1-udp-relay", daemon=True)
        self.crashed: BaseException | None = None

    # -- driven from the event loop ---------------------------------------------
    def start(self) -> None:
        self._listen_fd = self._sock.fileno()
        self._epoll.register(self._listen_fd, _IN)
        self._epoll.register(self._wake, _IN)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    async def stop(self) -> None:
        self._stopping = True
        os.eventfd_write(self._wake, 1)
        await asyncio.to_thread(self._thread.join)

    def close(self) -> None:
        """After ``stop()`` and once the sessions are closed: release the descriptors."""
        self._epoll.close()
        os.close(self._wake)

    def _deliver(self, intercept: Intercept, data: bytes, addr: Address) -> None:
        """On the loop: offer a STUN-shaped datagram to the hook, else send it back."""
        if intercept(data, addr) or self._stopping:
            return
        if stun_reply(data, len(data)):
            self._fwd.unclaimed_stun(addr)  # a reply nobody waits for is not player traffic
            return
        self._replay.append((data, addr))
        os.eventfd_write(self._wake, 1)

    # -- on the relay thread (watch/unwatch: also from the loop after stop()) ------
    def watch(self, session: Session) -> None:
        fd = session.sock.fileno()
        self._by_fd[fd] = session
        self._epoll.register(fd, _IN)

    def unwatch(self, session: Session) -> None:
        fd = session.sock.fileno()
        self._by_fd.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):  # already closed
            self._epoll.unregister(fd)

    def _run(self) -> None:
        try:
            self._relay()
        except BaseException as exc:  # a bug: report it the way the loop reports callbacks
            self.crashed = exc
            if not self._loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(
                        self._loop.call_exception_handler,
                        {"message": "UDP relay thread failed", "exception": exc},
                    )
                    # The players must not lose the service to it: the forwarder
                    # carries on with the event loop's relay.
                    self._loop.call_soon_threadsafe(self._fwd.relay_failed)

    def _relay(self) -> None:
        fwd, poll, by_fd = self._fwd, self._epoll.poll, self._by_fd
        listen_fd, wake = self._listen_fd, self._wake
        on_listen, on_session = self._on_listen_readable, self._on_session_readable
        monotonic = time.monotonic
        interval = fwd.sweep_interval()
        next_sweep = monotonic() + interval
        while not self._stopping:
            timeout = next_sweep - monotonic()
            if timeout <= 0:
                fwd.expire_idle()
                next_sweep = monotonic() + interval
                continue
            for fd, _events in poll(timeout):
                if fd == listen_fd:
                    on_listen()
                elif fd == wake:
                    with contextlib.suppress(BlockingIOError):
                        os.eventfd_read(wake)
                    self._replay_unclaimed()
                else:
                    session = by_fd.get(fd)
                    if session is not None:
                        on_session(session)

    def _replay_unclaimed(self) -> None:
        replay = self._replay
        while replay and not self._stopping:
            data, addr = replay.popleft()
            self._relay_up(data, len(data), addr)

    def _relay_up(self, data: bytes | memoryview, nbytes: int, addr: Address) -> None:
        fwd = self._fwd
        session = fwd.sessions_by_addr.get(addr)
        if session is None:
            session = fwd.open_session(addr, time.monotonic())
            if session is None:
                return
        session.up += nbytes
        session.up_packets += 1
        try:  # noqa: SIM105 - per packet: a context manager costs more here
            session.send(data, self._remote)
        except OSError:  # EAGAIN, or ECONNREFUSED from a queued ICMP error
            pass

    def _on_listen_readable(self) -> None:
        fwd, sock = self._fwd, self._sock
        buf, view, sessions, remote = self._buf, self._view, fwd.sessions_by_addr, self._remote
        recv, fd = sock.recvfrom_into, self._listen_fd
        for i in range(BATCH):
            if i == 1 and not queued(fd):
                return
            try:
                nbytes, addr = recv(buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. a queued ICMP error from a send()
                continue
            if nbytes >= 20 and buf[0] < 0x40 and (buf[4], buf[5], buf[6], buf[7]) == _COOKIE:
                intercept = fwd.intercept
                if intercept is not None:
                    self._hand_to_loop(intercept, bytes(view[:nbytes]), addr)
                    continue
                if stun_reply(buf, nbytes):
                    fwd.unclaimed_stun(addr)
                    continue
            # _relay_up inlined on purpose: the extra call per datagram measured up to
            # ~10 % fewer packets/s; _relay_up serves the rare replayed datagrams only.
            session = sessions.get(addr)
            if session is None:
                session = fwd.open_session(addr, time.monotonic())
                if session is None:
                    continue
            session.up += nbytes
            session.up_packets += 1
            try:  # noqa: SIM105 - per packet: a context manager costs more here
                session.send(view[:nbytes], remote)
            except OSError:
                pass

    def _hand_to_loop(self, intercept: Intercept, data: bytes, addr: Address) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for STUN
            self._loop.call_soon_threadsafe(self._deliver, intercept, data, addr)

    def _on_session_readable(self, session: Session) -> None:
        sock, buf, view, addr = session.sock, self._buf, self._view, session.addr
        remote_host, remote_port = self._remote
        recv, send, fd = sock.recvfrom_into, self._sock.sendto, sock.fileno()
        pong_port = self._fwd.pong_port
        for i in range(BATCH):
            if i == 1 and not queued(fd):
                return
            try:
                nbytes, source = recv(buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ConnectionRefusedError: ICMP from remote, reported once
                continue
            if source[1] != remote_port or source[0] != remote_host:
                continue  # not from remote: a stray or spoofed datagram
            session.down += nbytes
            session.down_packets += 1
            packet: bytes | memoryview = view[:nbytes]
            if pong_port is not None and buf[0] == 0x1C:  # a Bedrock pong? (one compare otherwise)
                packet = rewrite_pong(packet, pong_port) or packet
            try:  # noqa: SIM105 - per packet: a context manager costs more here
                send(packet, addr)
            except OSError:
                pass
