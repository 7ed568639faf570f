"""Which router to ask: the default route's gateway (Linux ``/proc/net/route``) or the configured one."""

from __future__ import annotations

import ipaddress
import socket

_RTF_UP, _RTF_GATEWAY = 0x1, 0x2
# The calling thread's namespace first: /proc/net follows the main thread, and a thread may have
# entered another network namespace (setns) since.
PROC_ROUTES = ("/proc/thread-self/net/route", "/proc/net/route")


def parse_proc_route(text: str) -> ipaddress.IPv4Address | None:
    """The gateway of the IPv4 default route with the lowest metric, or ``None``."""
    best: tuple[int, ipaddress.IPv4Address] | None = None
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination, gateway, flags = int(fields[1], 16), int(fields[2], 16), int(fields[3], 16)
            metric, mask = int(fields[6]), int(fields[7], 16)
        except ValueError:
            continue
        if destination or mask or flags & (_RTF_UP | _RTF_GATEWAY) != _RTF_UP | _RTF_GATEWAY or not gateway:
            continue
        # The kernel prints the raw network-order word as a host integer: ntohl undoes it on any endianness.
        address = ipaddress.IPv4Address(socket.ntohl(gateway))
        if best is None or metric < best[0]:
            best = (metric, address)
    return best[1] if best else None


def default_gateway() -> ipaddress.IPv4Address | None:
    """This host's default gateway, or ``None`` (no default route, or not Linux)."""
    for path in PROC_ROUTES:
        try:
            with open(path, encoding="ascii") as route:
                return parse_proc_route(route.read())
        except OSError:
            continue
    return None


def own_address(gateway: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
    """The source address this host uses toward ``gateway`` (a connected UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((str(gateway), 9))
        return ipaddress.IPv4Address(probe.getsockname()[0])
