"""Small helpers every layer uses: free ports, HostPort from a socket address, bounded polling."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from nat1_traversal.model import HostPort


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hp(addr: tuple[str, int]) -> HostPort:
    return HostPort(addr[0], addr[1])


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition that has no event to await, bounded in time (10 ms steps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
