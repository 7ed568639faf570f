"""The address grammar of ``-l``/``-r``/config (SPEC section 2) and ``host[:port]`` lists.

Accepted: ``:``, ``:25566``, ``25566``, ``1.2.3.4``, ``1.2.3.4:``, ``1.2.3.4:25566``,
``[::1]``, ``[::1]:25566`` and a bare IPv6 literal. Whatever is left out takes the
default. Pure functions: they raise ``ValueError`` with a catalogue key in ``args[0]``
and the caller turns it into a usage or config error.
"""

from __future__ import annotations

import ipaddress

from nat1_traversal.model import Endpoint, HostPort

LOCAL_DEFAULT_IP = "0.0.0.0"
REMOTE_DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 25565


class AddressError(ValueError):
    """``key`` names the catalogue message; ``text`` is what the user wrote."""

    def __init__(self, key: str, text: str) -> None:
        super().__init__(key, text)
        self.key = key
        self.text = text


def _port(text: str, original: str, *, allow_zero: bool = False) -> int:
    if not text.isdigit() or len(text) > 5:
        raise AddressError("cli.addr.bad_port", original)
    port = int(text)
    if port > 65535 or (port == 0 and not allow_zero):
        raise AddressError("cli.addr.bad_port", original)
    return port


def split_host_port(text: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` / ``[v6][:port]`` / bare v6 into host and port text."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError("cli.addr.bad_brackets", text)
        host, rest = text[1:close], text[close + 1 :]
        if rest == "":
            return host, None
        if not rest.startswith(":"):
            raise AddressError("cli.addr.bad_brackets", text)
        return host, rest[1:]
    if text.count(":") > 1:  # a bare IPv6 literal carries no port
        return text, None
    host, sep, port = text.partition(":")
    return host, (port if sep else None)


def parse_endpoint(text: str, default_ip: str, default_port: int = DEFAULT_PORT) -> Endpoint:
    """Parse ``-l``/``-r`` grammar into a literal endpoint, filling in defaults."""
    text = text.strip()
    host, port_text = ("", text) if text.isdigit() else split_host_port(text)
    try:
        ip = ipaddress.ip_address(host or default_ip)
    except ValueError:
        raise AddressError("cli.addr.bad_ip", text) from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        raise AddressError("cli.addr.bad_ip", text)
    port = _port(port_text, text) if port_text else default_port
    return Endpoint(ip, port)


def parse_local(text: str) -> Endpoint:
    return parse_endpoint(text, LOCAL_DEFAULT_IP)


def parse_remote(text: str) -> Endpoint:
    return parse_endpoint(text, REMOTE_DEFAULT_IP)


def parse_host_port(text: str, default_port: int) -> HostPort:
    """Parse ``host[:port]`` where host is a name or a literal (server lists)."""
    text = text.strip()
    host, port_text = split_host_port(text)
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise AddressError("cli.addr.bad_host", text)
    port = _port(port_text, text) if port_text else default_port
    return HostPort(host, port)
