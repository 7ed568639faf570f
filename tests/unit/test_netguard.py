"""The suite's network guard refuses and records traffic that would leave loopback."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest


def test_connect_outside_loopback_is_refused(netguard_records: Callable[[], list[str]]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(OSError) as caught:
        sock.sendto(b"x", ("192.0.2.1", 3478))
    assert caught.value.errno == errno.ENETUNREACH
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OSError):
        sock.connect(("198.51.100.1", 80))
    with pytest.raises(OSError):
        socket.getaddrinfo("stun.miwifi.com", 3478)
    assert len(netguard_records()) == 3


def test_loopback_is_allowed(netguard_records: Callable[[], list[str]]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"x", ("127.0.0.1", 9))
    assert socket.getaddrinfo("localhost", 80)
    assert netguard_records() == []


def test_children_are_guarded(netguard_records: Callable[[], list[str]]) -> None:
    code = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('192.0.2.1', 9))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0
    assert "network guard" in done.stderr
    assert any("192.0.2.1" in line for line in netguard_records())
