"""The pure part of UPnP IGD: SSDP text, the device description, SOAP envelopes and faults.

Nothing here opens a socket. XML comes from a device on the LAN that we do not
trust: a document with a DOCTYPE (the door to entity expansion) is refused before
it reaches the parser, and every size is bounded by the caller's fetch limits.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

from nat1_traversal.errors import PortmapError, PortmapRefused

SSDP_GROUP = ("239.255.255.250", 1900)  # UPnP Device Architecture 1.1 §1.1.2
SEARCH_TARGETS = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
)
# Preference order: IGDv2's WANIPConnection:2 first, then v1, then the PPPoE flavour.
SERVICE_TYPES = (
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
)
MAX_DESCRIPTION = 64 * 1024
_SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_CONTROL_NS = "urn:schemas-upnp-org:control-1-0"
_METHOD = "UPnP"


@dataclass(frozen=True, slots=True)
class SsdpReply:
    location: str
    search_target: str


@dataclass(frozen=True, slots=True)
class Service:
    service_type: str
    control_url: str

    @property
    def version(self) -> int:
        return int(self.service_type.rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _bad(detail: str) -> PortmapError:
    return PortmapError("portmap.bad_reply", method=_METHOD, detail=detail)


def msearch(search_target: str, mx: int = 1) -> bytes:
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {SSDP_GROUP[0]}:{SSDP_GROUP[1]}\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {search_target}\r\n\r\n"
    ).encode("ascii")


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def parse_ssdp(data: bytes, gateway: ipaddress.IPv4Address) -> SsdpReply:
    """A search response whose LOCATION points at ``gateway`` itself (not some other LAN box)."""
    text = data.decode("latin-1")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    if not re.match(r"HTTP/1\.[01] 200\b", lines[0]):
        raise _bad("SSDP: not a search response")
    headers = _headers(lines[1:])
    location, target = headers.get("location", ""), headers.get("st", "")
    if not location or target not in SEARCH_TARGETS:
        raise _bad("SSDP: no LOCATION or not a gateway")
    try:
        parts = urlsplit(location)
        host = ipaddress.ip_address(parts.hostname or "")
        _ = parts.port
    except ValueError as exc:
        raise _bad(f"SSDP: LOCATION {location!r}") from exc
    if parts.scheme != "http" or host != gateway:
        raise _bad(f"SSDP: LOCATION {location!r} is not on the gateway")
    return SsdpReply(location, target)


def safe_xml(data: bytes) -> ET.Element:
    """Parse untrusted XML; a DOCTYPE or ENTITY declaration is refused (no entity expansion)."""
    if len(data) > MAX_DESCRIPTION:
        raise _bad(f"XML of {len(data)} bytes")
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise _bad("XML with a DOCTYPE (refused)")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise _bad(f"XML: {exc}") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_description(data: bytes, location: str, gateway: ipaddress.IPv4Address) -> Service:
    """The best WAN*Connection service of a device description, its control URL made absolute."""
    root = safe_xml(data)
    base = location
    found: dict[str, str] = {}
    for element in root.iter():
        name = _local(element.tag)
        if name == "URLBase" and element.text:
            base = element.text.strip()
        if name != "service":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in element}
        kind, control = fields.get("serviceType", ""), fields.get("controlURL", "")
        if kind in SERVICE_TYPES and control and kind not in found:
            found[kind] = control
    for kind in SERVICE_TYPES:
        if kind in found:
            url = urljoin(base, found[kind])
            parts = urlsplit(url)
            try:
                same_host = parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "") == gateway
            except ValueError:
                same_host = False
            if not same_host:
                raise _bad(f"control URL {url!r} is not on the gateway")
            return Service(kind, url)
    raise _bad("no WANIPConnection/WANPPPConnection service")


def soap_body(service_type: str, action: str, arguments: dict[str, str]) -> bytes:
    args = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in arguments.items())
    return (
        '<?xml version="1.0"?>\r\n'
        f'<s:Envelope xmlns:s="{_SOAP_NS}" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        f'<s:Body><u:{action} xmlns:u="{escape(service_type)}">{args}</u:{action}></s:Body></s:Envelope>'
    ).encode()


def parse_soap(response: HttpResponse, action: str) -> dict[str, str]:
    """The out-arguments of ``action``; a UPnP fault raises :class:`PortmapRefused`."""
    if response.status == 200:
        root = safe_xml(response.body)
        for element in root.iter():
            if _local(element.tag) == f"{action}Response":
                return {_local(child.tag): (child.text or "").strip() for child in element}
        raise _bad(f"SOAP: no {action}Response")
    if response.status != 500:
        raise _bad(f"HTTP {response.status}")
    root = safe_xml(response.body)
    code, description = None, ""
    for element in root.iter():
        if _local(element.tag) == "errorCode":
            code = (element.text or "").strip()
        elif _local(element.tag) == "errorDescription":
            description = (element.text or "").strip()
    if code is None or not code.isdigit():
        raise _bad("SOAP fault without errorCode")
    raise refusal(int(code), description)


# UPnP IGD error codes worth words of their own (WANIPConnection:2 §2.4.16, UDA §3.2.2).
KNOWN_FAULTS = frozenset({401, 402, 501, 606, 713, 714, 715, 716, 718, 724, 725, 726, 727, 728, 729, 732})


def refusal(code: int, description: str) -> PortmapRefused:
    reason_key = f"portmap.upnp.{code}" if code in KNOWN_FAULTS else "portmap.upnp.other"
    return PortmapRefused(
        "portmap.refused", method=_METHOD, code=code, reason_key=reason_key, description=description[:200] or "-"
    )


def parse_http(raw: bytes, limit: int = MAX_DESCRIPTION) -> HttpResponse:
    """An HTTP/1.x response read to EOF (we send ``Connection: close``); chunked bodies joined."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise _bad("HTTP: no end of headers")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not match:
        raise _bad("HTTP: no status line")
    headers = _headers(lines[1:])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError as exc:
            raise _bad("HTTP: bad Content-Length") from exc
        if length > len(body) or length < 0:
            raise _bad("HTTP: body shorter than Content-Length")
        body = body[:length]
    if len(body) > limit:
        raise _bad(f"HTTP: body over {limit} bytes")
    return HttpResponse(int(match.group(1)), headers, body)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError as exc:
            raise _bad("HTTP: bad chunk size") from exc
        if not sep or size < 0 or len(data) < size:
            raise _bad("HTTP: truncated chunk")
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size:].removeprefix(b"\r\n")
