"""UPnP IGD pure parts: SSDP replies, device descriptions (safely), SOAP bodies and faults, HTTP framing."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap import igd
from nat1_traversal.portmap.gateway import parse_proc_route

GW = ipaddress.IPv4Address("192.168.1.1")


def ssdp(location: str, st_: str = igd.SEARCH_TARGETS[0], status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nCACHE-CONTROL: max-age=120\r\nST: {st_}\r\nLOCATION: {location}\r\n\r\n".encode()


def test_msearch() -> None:
    text = igd.msearch(igd.SEARCH_TARGETS[1]).decode()
    assert text.startswith("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n")
    assert '\r\nMAN: "ssdp:discover"\r\n' in text and text.endswith("InternetGatewayDevice:1\r\n\r\n")


def test_ssdp_reply_on_the_gateway() -> None:
    got = igd.parse_ssdp(ssdp("http://192.168.1.1:5000/rootDesc.xml"), GW)
    assert got.location == "http://192.168.1.1:5000/rootDesc.xml"


@pytest.mark.parametrize(
    "data",
    [
        ssdp("http://192.168.1.77:5000/rootDesc.xml"),  # a printer answering for the router
        ssdp("http://router.local/rootDesc.xml"),
        ssdp("https://192.168.1.1/rootDesc.xml"),
        ssdp("http://192.168.1.1:99999/x"),
        ssdp("http://192.168.1.1/x", st_="urn:schemas-upnp-org:device:MediaRenderer:1"),
        ssdp("http://192.168.1.1/x", status="404 Not Found"),
        b"NOTIFY * HTTP/1.1\r\n\r\n",
        b"",
    ],
)
def test_ssdp_replies_refused(data: bytes) -> None:
    with pytest.raises(PortmapError):
        igd.parse_ssdp(data, GW)


DESCRIPTION = b"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device>
 <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
 <deviceList><device><deviceList><device>
  <serviceList>
   <service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
     <controlURL>/ctl/PPP</controlURL></service>
   <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
     <controlURL>/ctl/IPConn</controlURL></service>
  </serviceList></device></deviceList></device></deviceList></device></root>"""


def test_description_picks_wanip_over_ppp() -> None:
    service = igd.parse_description(DESCRIPTION, "http://192.168.1.1:5000/rootDesc.xml", GW)
    assert service.service_type.endswith("WANIPConnection:1") and service.version == 1
    assert service.control_url == "http://192.168.1.1:5000/ctl/IPConn"


def test_description_v2_first_and_urlbase() -> None:
    data = DESCRIPTION.replace(b"WANIPConnection:1", b"WANIPConnection:2").replace(
        b"<device>", b"<URLBase>http://192.168.1.1:6000/</URLBase><device>", 1
    )
    service = igd.parse_description(data, "http://192.168.1.1:5000/rootDesc.xml", GW)
    assert service.version == 2 and service.control_url == "http://192.168.1.1:6000/ctl/IPConn"


@pytest.mark.parametrize(
    "data",
    [
        DESCRIPTION.replace(b"/ctl/IPConn", b"http://192.168.1.66/ctl").replace(b"/ctl/PPP", b"http://x/"),
        DESCRIPTION.replace(b"WANIPConnection:1", b"Other:1").replace(b"WANPPPConnection:1", b"Other:2"),
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><root>&lol2;</root>',
        b"<root><!ENTITY x SYSTEM 'file:///etc/passwd'></root>",
        b"<root>",
        b"x" * (igd.MAX_DESCRIPTION + 1),
    ],
    ids=["control elsewhere", "no service", "entity expansion", "external entity", "truncated", "too big"],
)
def test_descriptions_refused(data: bytes) -> None:
    with pytest.raises(PortmapError):
        igd.parse_description(data, "http://192.168.1.1:5000/rootDesc.xml", GW)


def test_soap_body_escapes() -> None:
    body = igd.soap_body(igd.SERVICE_TYPES[0], "AddPortMapping", {"NewPortMappingDescription": "a<b&c"}).decode()
    assert "<u:AddPortMapping" in body and "a&lt;b&amp;c" in body
    assert igd.safe_xml(body.encode()) is not None


def test_soap_response() -> None:
    body = (
        b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">'
        b"<NewExternalIPAddress>10.0.0.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"
    )
    out = igd.parse_soap(igd.HttpResponse(200, {}, body), "GetExternalIPAddress")
    assert out == {"NewExternalIPAddress": "10.0.0.2"}
    with pytest.raises(PortmapError):
        igd.parse_soap(igd.HttpResponse(200, {}, body), "AddPortMapping")


def fault(code: str, description: str = "OnlyPermanentLeasesSupported") -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
        '<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">'
        f"<errorCode>{code}</errorCode><errorDescription>{description}</errorDescription>"
        "</UPnPError></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()


@pytest.mark.parametrize("code", [*sorted(igd.KNOWN_FAULTS), 899])
def test_soap_faults_rendered(code: int) -> None:
    with pytest.raises(PortmapRefused) as caught:
        igd.parse_soap(igd.HttpResponse(500, {}, fault(str(code))), "AddPortMapping")
    assert caught.value.code == code and caught.value.method == "UPnP"
    text = caught.value.render()
    assert "OnlyPermanentLeasesSupported" in text and not caught.value.reason().startswith("portmap.")


@pytest.mark.parametrize("body", [fault("abc"), b"<x/>", b"not xml"])
def test_bad_faults(body: bytes) -> None:
    with pytest.raises(PortmapError) as caught:
        igd.parse_soap(igd.HttpResponse(500, {}, body), "AddPortMapping")
    assert not isinstance(caught.value, PortmapRefused)


def test_http_framing() -> None:
    plain = igd.parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef")
    assert plain.status == 200 and plain.body == b"abc"
    chunked = igd.parse_http(
        b"HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    assert chunked.status == 500 and chunked.body == b"abcde"
    bad_replies = (
        b"HTTP/1.1 200 OK\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n" + bytes(10),
    )
    for bad in bad_replies:
        with pytest.raises(PortmapError):
            igd.parse_http(bad, limit=5)


@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_portmap_error(data: bytes) -> None:
    with contextlib.suppress(PortmapError):
        igd.parse_ssdp(data, GW)
    with contextlib.suppress(PortmapError):
        igd.parse_description(data, "http://192.168.1.1/", GW)
    with contextlib.suppress(PortmapError):
        igd.parse_soap(igd.parse_http(data), "AddPortMapping")


ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlan0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_proc_route() -> None:
    assert parse_proc_route(ROUTE) == ipaddress.IPv4Address("192.168.2.1")
    assert parse_proc_route(ROUTE.splitlines()[0] + "\n" + ROUTE.splitlines()[3]) is None
    assert parse_proc_route("") is None
    down = ROUTE.replace("0003", "0002")
    assert parse_proc_route(down) is None
