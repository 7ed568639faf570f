"""What both UDP relay designs share: the session record, the drain helpers, the
shape tests for STUN datagrams, and ``RelayHost``, the small interface through
which the relay thread (``udp_thread.py``) drives a ``UdpForwarder``.

Dependencies point one way: ``udp`` -> ``udp_thread`` -> ``udp_session``, and
``udp`` -> ``udp_session``; nothing here imports either relay.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Mapping
from typing import Protocol

Address = tuple[str, int]
Intercept = Callable[[bytes, Address], bool]

# Largest UDP payload is 65,507 (IPv4) / 65,527 (IPv6) bytes: 64 KiB holds any datagram.
DATAGRAM_BUFFER_SIZE = 64 * 1024
# Datagrams handled per wake-up before yielding to other callbacks.
BATCH = 64
STUN_COOKIE = (0x21, 0x12, 0xA4, 0x42)


class Session:
    """One client address and its own socket towards ``remote``."""

    __slots__ = ("addr", "down", "down_packets", "last", "seen", "send", "sock", "source", "started", "up",
                 "up_packets")

    def __init__(self, addr: Address, sock: socket.socket, now: float) -> None:
        self.addr = addr
        self.source = addr[0]  # what the per-source limit counts by (common.source_of)
        self.sock = sock
        self.send = sock.sendto  # bound once: one lookup less per datagram
        self.started = self.last = now
        self.up = self.down = self.up_packets = self.down_packets = 0
        self.seen = 0  # packets counted at the last sweep

    @property
    def packets(self) -> int:
        return self.up_packets + self.down_packets


class RelayHost(Protocol):
    """What the relay thread needs from its forwarder, and nothing more.

    ``sessions`` and ``intercept`` are read per datagram (plain attributes, no
    calls); the methods run on the relay thread while it owns the session table.
    """

    @property
    def sessions_by_addr(self) -> Mapping[Address, Session]: ...

    @property
    def intercept(self) -> Intercept | None: ...

    @property
    def pong_port(self) -> int | None: ...

    def open_session(self, addr: Address, now: float) -> Session | None: ...

    def expire_idle(self) -> None: ...

    def sweep_interval(self) -> float: ...

    def unclaimed_stun(self, addr: Address) -> None: ...

    def relay_failed(self) -> None:
        """Called on the event loop once the relay thread died of a bug."""


def stun_shaped(buf: bytes | bytearray | memoryview, nbytes: int) -> bool:
    """An RFC 8489 header: two zero top bits and the magic cookie (cheap, inline-able)."""
    return nbytes >= 20 and buf[0] < 0x40 and (buf[4], buf[5], buf[6], buf[7]) == STUN_COOKIE


def stun_reply(buf: bytes | bytearray | memoryview, nbytes: int) -> bool:
    """A well-formed STUN success or error response (class bit C1 set, length right).

    A reply that no pending request claims is never player traffic: a late answer
    to a transaction given up on, or a forgery; a game that speaks STUN itself
    sends requests and indications, which still pass.
    """
    return (
        stun_shaped(buf, nbytes)
        and buf[0] & 0x01 == 0x01
        and (buf[2] << 8 | buf[3]) == nbytes - 20
        and nbytes % 4 == 0
    )


if sys.platform != "win32":
    from fcntl import ioctl
    from termios import FIONREAD

    _queued_buf = bytearray(4)

    def queued(fd: int) -> bool:
        """Whether a datagram waits (cheaper than a recv failing with EAGAIN).
        A queued empty datagram reads as 0: it is picked up at the next wake-up.
        (ioctl fills and the compare reads the scratch buffer under the GIL.)"""
        try:
            ioctl(fd, FIONREAD, _queued_buf)
        except OSError:
            return True  # let recv tell
        return _queued_buf != b"\0\0\0\0"

else:

    def queued(fd: int) -> bool:
        return True  # Windows: the wake-up ends on EAGAIN instead
