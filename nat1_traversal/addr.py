"""The one ``host:port`` grammar: ``-l``/``-r``/config (SPEC section 2), server lists, ``-q``, rfc2136.

Accepted: ``:``, ``:25566``, ``25566``, ``1.2.3.4``, ``1.2.3.4:``, ``1.2.3.4:25566``,
``[::1]``, ``[::1]:25566`` and a bare IPv6 literal; where names are allowed, also
``name`` and ``name:port``. Whatever is left out takes the default. The rules, once:

* surrounding white space is ignored;
* brackets hold an IPv6 literal and may be followed by ``:port`` only;
* without brackets, two or more colons make a bare IPv6 literal (no port);
* a port is 1-65535 in ASCII digits (no ``²``, no fullwidth digits, at most 5 digits);
* an empty port (``1.2.3.4:``) means the default port;
* a bare number is a port (``-l``/``-q``) or a host name (server lists), as the caller says;
* a host is an IP literal, or with ``names=True`` also a DNS name (IDNA is turned into ASCII).

``parse_address`` is the grammar; the others are the callers' shapes of it. Pure
functions: they raise ``AddressError`` (a ``ValueError``) with a catalogue key and the
text the user wrote, and the caller turns it into a usage or config error.
"""

from __future__ import annotations

import encodings.idna
import ipaddress
import re

from nat1_traversal.model import Endpoint, HostPort

LOCAL_DEFAULT_IP = "0.0.0.0"
REMOTE_DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 25565
MAX_ADDRESS_LEN = 1024  # longer than any name (253) plus a port: refuse before any work
_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the dots IDNA (RFC 3490 3.1) accepts
_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$")


class AddressError(ValueError):
    """``key`` names the catalogue message; ``text`` is what the user wrote."""

    def __init__(self, key: str, text: str) -> None:
        super().__init__(key, text)
        self.key = key
        self.text = text


def _is_port_text(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_port(text: str, original: str) -> int:
    """``1``-``65535`` written in ASCII digits; ``AddressError`` otherwise."""
    if not _is_port_text(text) or len(text) > 5 or not 0 < int(text) <= 65535:
        raise AddressError("cli.addr.bad_port", original)
    return int(text)


def split_host_port(text: str) -> tuple[str, str | None, bool]:
    """Split ``host[:port]`` / ``[v6][:port]`` / bare v6 into host text, port text
    (None when there is no colon) and whether the host was in brackets."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError("cli.addr.bad_brackets", text)
        host, rest = text[1:close], text[close + 1 :]
        if rest == "":
            return host, None, True
        if not rest.startswith(":"):
            raise AddressError("cli.addr.bad_brackets", text)
        return host, rest[1:], True
    if text.count(":") > 1:  # a bare IPv6 literal carries no port
        return text, None, False
    host, sep, port = text.partition(":")
    return host, (port if sep else None), False


def _check_host(host: str, bracketed: bool, names: bool, original: str) -> str:
    """The host as it will be used: a literal unchanged, a name in ASCII (IDNA)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if bracketed and ip.version != 6:
            raise AddressError("cli.addr.bad_ip", original)
        return host
    if bracketed or ":" in host or not names:
        raise AddressError("cli.addr.bad_ip", original)
    ascii_host = _idna(host, original)
    if len(ascii_host) > 253 or not _HOST_NAME.match(ascii_host):
        raise AddressError("cli.addr.bad_host", original)
    return ascii_host


def _idna(host: str, original: str) -> str:
    """Each non-ASCII label as its ``xn--`` form. A label that IDNA would fold into
    plain ASCII (``²`` becomes ``2``) is refused: the user did not write that name."""
    if host.isascii():
        return host
    labels: list[str] = []
    for label in _IDNA_DOTS.split(host):
        if label.isascii():
            labels.append(label)
            continue
        try:
            encoded = encodings.idna.ToASCII(label).decode("ascii")
        except UnicodeError:
            raise AddressError("cli.addr.bad_host", original) from None
        if not encoded.lower().startswith("xn--"):
            raise AddressError("cli.addr.bad_host", original)
        labels.append(encoded)
    return ".".join(labels)


def parse_address(
    text: str,
    *,
    default_port: int | None,
    names: bool,
    bare_number_is_port: bool,
    host_required: bool,
) -> tuple[str | None, int | None]:
    """The grammar. Returns ``(host, port)``: ``host`` None when left out (only
    without ``host_required``), ``port`` ``default_port`` when left out."""
    original = text = text.strip()
    if len(text) > MAX_ADDRESS_LEN:
        raise AddressError("cli.addr.bad_host" if names else "cli.addr.bad_ip", text[:64] + "…")
    port_text: str | None = text
    host, bracketed = "", False
    if not (bare_number_is_port and _is_port_text(text)):
        host, port_text, bracketed = split_host_port(text)
    if host == "" and not bracketed:
        if host_required:
            raise AddressError("cli.addr.bad_host" if names else "cli.addr.bad_ip", original)
        checked: str | None = None
    else:
        checked = _check_host(host, bracketed, names, original)
    port = parse_port(port_text, original) if port_text else default_port
    return checked, port


def parse_endpoint(text: str, default_ip: str, default_port: int = DEFAULT_PORT) -> Endpoint:
    """Parse ``-l``/``-r`` grammar into a literal endpoint, filling in defaults."""
    host, port = parse_address(text, default_port=default_port, names=False, bare_number_is_port=True,
                               host_required=False)
    ip = ipaddress.ip_address(host or default_ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        raise AddressError("cli.addr.bad_ip", text.strip())
    assert port is not None  # default_port is an int
    return Endpoint(ip, port)


def parse_local(text: str) -> Endpoint:
    return parse_endpoint(text, LOCAL_DEFAULT_IP)


def parse_remote(text: str) -> Endpoint:
    return parse_endpoint(text, REMOTE_DEFAULT_IP)


def parse_host_port(text: str, default_port: int) -> HostPort:
    """Parse ``host[:port]`` where host is a name or a literal (server lists, rfc2136)."""
    host, port = parse_address(text, default_port=default_port, names=True, bare_number_is_port=False,
                               host_required=True)
    assert host is not None and port is not None  # host_required, int default
    return HostPort(host, port)


def parse_optional_host_port(text: str) -> tuple[str | None, int | None]:
    """``-q`` targets: host None means this machine, port None means "SRV, then the default"."""
    return parse_address(text, default_port=None, names=True, bare_number_is_port=True, host_required=False)
