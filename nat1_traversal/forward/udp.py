"""The UDP forwarder: one session per client address, each with its own socket to ``remote``.

The listening socket on ``local`` is also the STUN socket of forward mode (SPEC
section 1): ``send()`` lets the STUN client transmit from it, and the ``intercept``
hook sees every datagram first and may claim it (a STUN reply) before it is
treated as player traffic.

Speed: no asyncio datagram transports (CPython 3.11's reads 256 KiB per datagram
and allocates a ``bytes`` each time). Plain non-blocking sockets are watched with
``loop.add_reader``; each wake-up drains the socket with ``recvfrom_into`` into one
preallocated 64 KiB buffer until EAGAIN (bounded, so one busy peer cannot starve
the loop), and sends straight from that buffer. Idle sessions are expired by one
periodic sweep, not a timer per session, so a session costs only its socket and
a few small objects.

On Linux with the standard asyncio loop the same relay runs on one thread of its
own with its own epoll (``udp_thread.py``, ``relay="thread"``): the loop's cost
per wake-up was most of what we added to a round trip (p50 -10 us, p99 about
-15 us measured, packets/s unchanged). uvloop is as fast on its own loop and
keeps ``add_reader`` (``relay="loop"``), as does every other system.

Latency (measured with bench/): the per-datagram path does no clock reads, no
logging and no attribute chains. Activity is a packet counter the sweep compares
with what it saw last time. After the first datagram of a wake-up, an
``ioctl(FIONREAD)`` (0.7 us) tells whether more are queued; ending every
wake-up on a failed ``recvfrom_into`` instead costs a raised BlockingIOError
(1.6 us and more), which at one datagram per wake-up, the latency-bound case,
was the largest single cost of the path.

Abuse (issue 15): a STUN response that the hook does not claim is dropped (a
late answer or a forgery is never player traffic; STUN requests still pass); one
source address holds at most ``max_per_source`` sessions; every per-event
warning goes through a ``Throttle`` (flushed by the sweep); the descriptors for
``max_sessions`` are reserved at start (``limits.py``).

Session sockets are deliberately NOT ``connect()``ed: Linux reports an ICMP
port-unreachable from ``remote`` (the game server restarting) only on connected
UDP sockets, as a socket error, and libuv (uvloop) stops watching a descriptor
that reports an error, which would silently kill the session. An unconnected
socket never sees those errors; it drops datagrams whose source is not
``remote`` instead. Should an error surface anyway (another OS), the
``ConnectionRefusedError`` is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys
import time
from typing import Literal

from nat1_traversal.errors import NetworkError
from nat1_traversal.forward import limits
from nat1_traversal.forward.bedrock import rewrite_pong
from nat1_traversal.forward.common import Throttle, local_port, show, source_of
from nat1_traversal.forward.udp_session import (
    BATCH,
    DATAGRAM_BUFFER_SIZE,
    STUN_COOKIE,
    Address,
    Intercept,
    Session,
    queued,
    stun_reply,
)
from nat1_traversal.forward.udp_thread import EpollRelay
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint
from nat1_traversal.net import family_of, local_endpoint

logger = logging.getLogger(__name__)

__all__ = ["BATCH", "DATAGRAM_BUFFER_SIZE", "Address", "Intercept", "Relay", "UdpForwarder"]

# "loop": add_reader on the event loop; "thread": one relay thread with its own
# epoll (Linux only, see udp_thread.py); "auto": what measured best here.
Relay = Literal["auto", "loop", "thread"]

_SWEEP_MAX_INTERVAL = 5.0
LISTEN_RCVBUF = 4 * 1024 * 1024
AUTO_THREAD = True


class UdpForwarder:
    """Relays UDP flows arriving on ``local`` to ``remote`` and the replies back.

    Implements ``udp_session.RelayHost`` for the relay thread: ``sessions_by_addr``,
    ``intercept``, ``open_session``, ``expire_idle`` and ``sweep_interval``.
    """

    def __init__(
        self,
        local: Endpoint,
        remote: Endpoint,
        *,
        intercept: Intercept | None = None,
        max_sessions: int = 1024,
        max_per_source: int = 128,
        idle_timeout: float = 120.0,
        relay: Relay = "auto",
    ) -> None:
        self.local = local
        self.remote = remote
        self.max_sessions = max_sessions
        self.max_per_source = max_per_source
        self.idle_timeout = idle_timeout
        # The STUN demultiplexing hook (read per datagram; set with set_intercept()).
        self.intercept: Intercept | None = intercept
        # Live sessions by client address (only the relay that runs changes it).
        self.sessions_by_addr: dict[Address, Session] = {}
        # The public port to advertise in Bedrock pongs (None: pass them unchanged).
        self.pong_port: int | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._buf = bytearray(DATAGRAM_BUFFER_SIZE)
        self._view = memoryview(self._buf)
        self._remote_addr = remote.sockaddr()
        self._remote_family = family_of(remote)
        self._per_source: dict[str, int] = {}
        self._reserved = 0
        # One line per interval and kind (flushed by the sweep), whichever thread reports.
        self._cap_log = Throttle(logger, "forward.udp_cap", counted=True)
        self._source_log = Throttle(logger, "forward.udp_source_cap", counted=True)
        self._failed_log = Throttle(logger, "forward.udp_session_failed")
        self._stun_log = Throttle(logger, "forward.stun_unclaimed", level=logging.DEBUG)
        self._throttles = (self._cap_log, self._source_log, self._failed_log, self._stun_log)
        self._relay_choice: Relay = relay
        self._thread: EpollRelay | None = None

    # -- public API -------------------------------------------------------------
    @property
    def bound(self) -> Endpoint:
        if self._sock is None:
            raise RuntimeError("UdpForwarder.start() has not run")
        return local_endpoint(self._sock)

    @property
    def sessions(self) -> int:
        return len(self.sessions_by_addr)

    @property
    def relay(self) -> Literal["loop", "thread"]:
        """Which relay design runs (after ``start()``)."""
        return "thread" if self._thread is not None else "loop"

    def set_intercept(self, intercept: Intercept | None) -> None:
        self.intercept = intercept

    def set_advertised_port(self, port: int | None) -> None:
        """The mapping's public port: Bedrock pongs from remote advertise it from now
        on (``bedrock.py``); None leaves pongs as the server sent them."""
        self.pong_port = port

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = _bind_udp(self.local)
        self.max_sessions = limits.reserve(self.max_sessions, 1, self.max_sessions, "forward.what_udp")
        self._reserved = self.max_sessions
        if _use_thread(self._relay_choice, self._loop):
            self._thread = EpollRelay(self, self._sock, self._remote_addr, self._loop)
            self._thread.start()
        else:
            self._relay_on_loop()
        logger.info(t("forward.udp_listening", local=self.bound, remote=self.remote))

    def _relay_on_loop(self) -> None:
        assert self._loop is not None and self._sock is not None
        self._loop.add_reader(self._sock.fileno(), self._on_listen_readable)
        for session in self.sessions_by_addr.values():
            self._loop.add_reader(session.sock.fileno(), self._on_session_readable, session)
        self._sweeper = self._loop.call_later(self.sweep_interval(), self._sweep)

    def relay_failed(self) -> None:
        """The relay thread died of a bug (reported already): relay on the loop from now on."""
        thread = self._thread
        if thread is None or self._sock is None or self._loop is None:
            return
        if thread.alive:  # reported from its last lines: it ends in a moment
            self._loop.call_later(0.01, self.relay_failed)
            return
        self._thread = None
        thread.close()  # the thread has ended: the session table is the loop's now
        self._relay_on_loop()

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send ``data`` to ``addr`` from the listening socket (for STUN); never raises."""
        sock = self._sock
        if sock is None:
            return
        if sock.family == socket.AF_INET6 and ":" not in addr[0]:
            addr = ("::ffff:" + addr[0], addr[1])
        try:
            sock.sendto(data, addr)
        except OSError as exc:  # a lost datagram: STUN retransmits
            logger.debug("udp send to %s failed: %s", show(addr), exc)

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        thread = self._thread
        if thread is not None:
            await thread.stop()  # joined: from here on only this thread touches the sessions
        for session in list(self.sessions_by_addr.values()):
            self._close_session(session)
        if thread is not None:
            thread.close()
            self._thread = None
        sock, self._sock = self._sock, None
        if sock is not None and self._loop is not None:
            if thread is None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        for throttle in self._throttles:
            throttle.flush(force=True)
        limits.release(self._reserved)
        self._reserved = 0

    # -- datagrams --------------------------------------------------------------
    def _on_listen_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        buf, view, sessions, remote = self._buf, self._view, self.sessions_by_addr, self._remote_addr
        recv = sock.recvfrom_into
        for i in range(BATCH):
            if i == 1 and not queued(sock.fileno()):
                return
            try:
                nbytes, addr = recv(buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. a queued ICMP error from a send()
                logger.debug("udp recv on listening socket: %s", exc)
                continue
            if nbytes >= 20 and buf[0] < 0x40 and (buf[4], buf[5], buf[6], buf[7]) == STUN_COOKIE:
                intercept = self.intercept
                if intercept is not None and intercept(bytes(view[:nbytes]), addr):
                    continue
                if stun_reply(buf, nbytes):
                    self.unclaimed_stun(addr)
                    continue
            session = sessions.get(addr)
            if session is None:
                session = self.open_session(addr, time.monotonic())
                if session is None:
                    continue
            session.up += nbytes
            session.up_packets += 1
            try:  # noqa: SIM105 - per packet: a context manager costs more here
                session.send(view[:nbytes], remote)
            except OSError:
                # EAGAIN: drop it, as the network would; ECONNREFUSED: an ICMP
                # port-unreachable from remote was queued, the server may come back.
                pass

    def _on_session_readable(self, session: Session) -> None:
        out = self._sock
        if out is None:
            return
        sock, buf, view, addr = session.sock, self._buf, self._view, session.addr
        remote_host, remote_port = self._remote_addr
        recv, send, pong_port = sock.recvfrom_into, out.sendto, self.pong_port
        for i in range(BATCH):
            if i == 1 and not queued(sock.fileno()):
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
            except OSError:  # EAGAIN: dropped, as the network would
                pass

    # -- sessions ---------------------------------------------------------------
    def open_session(self, addr: Address, now: float) -> Session | None:
        """A new session for ``addr`` (None: refused or failed, and logged)."""
        if len(self.sessions_by_addr) >= self.max_sessions:
            self._cap_log(limit=self.max_sessions, client=show(addr))
            return None
        session_source = source_of(addr)
        held = self._per_source.get(session_source, 0)
        if held >= self.max_per_source:
            self._source_log(limit=self.max_per_source, source=session_source, client=show(addr))
            return None
        try:
            sock = socket.socket(self._remote_family, socket.SOCK_DGRAM)
        except OSError as exc:  # out of descriptors
            self._failed_log(client=show(addr), remote=self.remote, error=exc)
            return None
        try:
            sock.setblocking(False)
            sock.bind(("::" if self._remote_family == socket.AF_INET6 else "0.0.0.0", 0))
        except OSError as exc:
            sock.close()
            self._failed_log(client=show(addr), remote=self.remote, error=exc)
            return None
        session = Session(addr, sock, now)
        session.source = session_source
        self.sessions_by_addr[addr] = session
        self._per_source[session_source] = held + 1
        if self._thread is not None:
            self._thread.watch(session)
        else:
            assert self._loop is not None
            self._loop.add_reader(sock.fileno(), self._on_session_readable, session)
        logger.info(
            t("forward.udp_open", client=show(addr), via=local_port(sock.getsockname()), remote=self.remote)
        )
        return session

    def _close_session(self, session: Session) -> None:
        if self.sessions_by_addr.pop(session.addr, None) is None:
            return
        held = self._per_source.get(session.source, 0) - 1
        if held > 0:
            self._per_source[session.source] = held
        else:
            self._per_source.pop(session.source, None)
        if self._thread is not None:
            self._thread.unwatch(session)
        elif self._loop is not None:
            self._loop.remove_reader(session.sock.fileno())
        session.sock.close()
        logger.info(
            t("forward.udp_close", client=show(session.addr), up=session.up, down=session.down,
              up_packets=session.up_packets, down_packets=session.down_packets,
              duration=time.monotonic() - session.started)
        )

    def sweep_interval(self) -> float:
        return min(max(self.idle_timeout / 4, 0.01), _SWEEP_MAX_INTERVAL)

    def _sweep(self) -> None:
        self.expire_idle()
        assert self._loop is not None
        self._sweeper = self._loop.call_later(self.sweep_interval(), self._sweep)

    def unclaimed_stun(self, addr: Address) -> None:
        """A STUN response no pending request claimed: dropped, never player traffic."""
        self._stun_log(client=show(addr))

    def expire_idle(self) -> None:
        for throttle in self._throttles:
            throttle.flush()
        # A session that moved packets since the last sweep was active now (to
        # within one sweep interval, at most a quarter of the idle timeout).
        now = time.monotonic()
        deadline = now - self.idle_timeout
        idle = []
        for session in self.sessions_by_addr.values():
            packets = session.packets
            if packets != session.seen:
                session.seen = packets
                session.last = now
            elif session.last <= deadline:
                idle.append(session)
        for session in idle:
            self._close_session(session)


def _use_thread(choice: Relay, loop: asyncio.AbstractEventLoop) -> bool:
    if choice == "loop" or not sys.platform.startswith("linux"):
        return False
    if choice == "thread":
        return True
    # auto: the standard loop only; uvloop's own loop is as fast as the thread.
    return isinstance(loop, asyncio.SelectorEventLoop) and AUTO_THREAD


def _bind_udp(local: Endpoint) -> socket.socket:
    """The listening socket. No SO_REUSEPORT: a second socket on this port would
    split the players' traffic, so a taken port must fail loudly instead."""
    family = family_of(local)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    # A burst of new players (or a flood) arrives while sessions are being set
    # up; a larger queue loses fewer of their first datagrams. The kernel caps
    # it at net.core.rmem_max, so this is best effort.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LISTEN_RCVBUF)
    try:
        if family == socket.AF_INET6 and local.ip == ipaddress.IPv6Address("::"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setblocking(False)
        sock.bind(local.sockaddr())
    except OSError as exc:
        sock.close()
        raise NetworkError("forward.bind_failed", local=str(local), kind="UDP", error=exc.strerror or exc) from exc
    return sock
