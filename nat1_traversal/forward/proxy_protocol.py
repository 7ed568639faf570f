"""PROXY protocol headers (HAProxy "PROXY protocol" specification, versions 1 and 2).

A pure codec: it turns the client's address and the address it connected to into
the header we send to ``remote`` before any payload, so the game server (or a web
server) sees the real player address instead of 127.0.0.1.

* Version 1 (spec section 2.1) is one text line, at most 107 bytes::

      PROXY TCP4 <src ip> <dst ip> <src port> <dst port>\\r\\n

  and ``PROXY UNKNOWN\\r\\n`` when the addresses cannot be expressed.
* Version 2 (spec section 2.2) is binary: the 12-byte signature, one byte of
  version (high nibble 2) and command (low nibble: 0 LOCAL, 1 PROXY), one byte of
  address family (high nibble: 1 INET, 2 INET6) and transport (low nibble: 1 STREAM,
  2 DGRAM), a 16-bit big-endian length of what follows, then source address,
  destination address, source port, destination port.

IPv4-mapped IPv6 addresses (a dual-stack listener accepting an IPv4 client) are
sent as IPv4, as the real client used IPv4.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Literal

ProxyVersion = Literal["v1", "v2"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Spec section 2.2: "\r\n\r\n\0\r\nQUIT\n".
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_VERSION_PROXY = 0x21  # version 2, command PROXY
V2_VERSION_LOCAL = 0x20  # version 2, command LOCAL
V2_TCP4 = 0x11  # AF_INET, SOCK_STREAM
V2_TCP6 = 0x21  # AF_INET6, SOCK_STREAM
V2_UNSPEC = 0x00
V1_UNKNOWN = b"PROXY UNKNOWN\r\n"


def _address(sockaddr: tuple[object, ...]) -> tuple[IPAddress, int] | None:
    """``(ip, port)`` from a socket address tuple, IPv4-mapped addresses unwrapped."""
    try:
        host = str(sockaddr[0]).split("%", 1)[0]
        ip = ipaddress.ip_address(host)
        port = int(str(sockaddr[1]))
    except (IndexError, ValueError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip, port


def header_v1(src: tuple[object, ...], dst: tuple[object, ...]) -> bytes:
    """The version 1 text header for a TCP connection from ``src`` to ``dst``."""
    source, dest = _address(src), _address(dst)
    if source is None or dest is None or source[0].version != dest[0].version:
        return V1_UNKNOWN
    proto = "TCP4" if source[0].version == 4 else "TCP6"
    line = f"PROXY {proto} {source[0]} {dest[0]} {source[1]} {dest[1]}\r\n"
    return line.encode("ascii")


def header_v2(src: tuple[object, ...], dst: tuple[object, ...]) -> bytes:
    """The version 2 binary header for a TCP connection from ``src`` to ``dst``."""
    source, dest = _address(src), _address(dst)
    if source is None or dest is None or source[0].version != dest[0].version:
        # Spec 2.2: with AF_UNSPEC the receiver must use the real connection
        # addresses; LOCAL says exactly that.
        return V2_SIGNATURE + struct.pack("!BBH", V2_VERSION_LOCAL, V2_UNSPEC, 0)
    family = V2_TCP4 if source[0].version == 4 else V2_TCP6
    body = source[0].packed + dest[0].packed + struct.pack("!HH", source[1], dest[1])
    return V2_SIGNATURE + struct.pack("!BBH", V2_VERSION_PROXY, family, len(body)) + body


def proxy_header(version: ProxyVersion, src: tuple[object, ...], dst: tuple[object, ...]) -> bytes:
    """The header of ``version`` ("v1" or "v2") for a connection from ``src`` to ``dst``."""
    if version == "v1":
        return header_v1(src, dst)
    return header_v2(src, dst)
