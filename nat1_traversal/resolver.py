"""``resolver`` (SPEC section 15): server names looked up over DNS over HTTPS.

A local proxy with fake-IP DNS (OpenClash, Clash) answers every name with an address
in 198.18.0.0/15 and captures the traffic: STUN would then see the proxy's address,
and ``-q`` would ask the proxy. With ``resolver`` set to a DoH URL, the names of STUN,
keepalive and query targets are asked of that server instead:

* a JSON API (``https://223.5.5.5/resolve?name=…&type=…``, answers as
  ``{"Status": 0, "Answer": [{"type": 1, "data": "…"}]}``), or
* RFC 8484 (any URL whose path ends in ``/dns-query``): the DNS wire format, GET
  with ``?dns=<base64url>``, ``application/dns-message``.

Both are turned into a dnspython response message, so CNAME chains, NXDOMAIN and
"no such record" mean what they mean in DNS. An answer in the fake-IP range is never
used. When the DoH server cannot be asked (a timeout, an HTTP error, a reply that is
not DNS), the lookup falls back to the system resolver with a WARNING, still without
fake-IP answers. A name that does not exist is an answer, not a failure: no fallback.

Two seams use it: ``net.set_name_lookup`` (STUN and keepalive servers) and the
``resolver`` argument of ``query.run_query`` (``-q``), which takes ``DohResolver``,
a dnspython resolver whose ``resolve`` asks the DoH server. Blocking ``requests``
calls run in daemon threads (``blocking.in_daemon_thread``).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import dns._asyncbackend
import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from nat1_traversal.blocking import in_daemon_thread
from nat1_traversal.i18n import t
from nat1_traversal.model import IPAddress
from nat1_traversal.resolver_settings import SYSTEM

log = logging.getLogger(__name__)

DOH_TIMEOUT = 3.0  # seconds per DoH request, connect and read each
# RFC 2544 benchmarking range, which fake-IP DNS of proxy tools hands out (SPEC section 13).
FAKE_IP_NETWORK = ipaddress.ip_network("198.18.0.0/15")
_WIRE_TYPE = "application/dns-message"
_JSON_TYPE = "application/dns-json"
_MAX_REPLY = 64 * 1024

NameLookup = Callable[[str, int], Awaitable[list[IPAddress]]]  # (host, AF_INET|AF_INET6) -> addresses


class DohFailure(Exception):
    """The DoH server could not be asked, or its reply is not a DNS answer."""


def is_fake_ip(address: IPAddress) -> bool:
    return address.version == 4 and address in FAKE_IP_NETWORK


class DohClient:
    """Asks one DoH server; every method but ``query`` blocks."""

    def __init__(self, url: str, *, timeout: float = DOH_TIMEOUT, verify: bool | str = True) -> None:
        self.url = url.strip()
        self.wire = urlsplit(self.url).path.rstrip("/").endswith("/dns-query")
        self.timeout = timeout
        self.verify = verify
        self.host = urlsplit(self.url).hostname or "?"

    async def query(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        """The server's answer as a DNS message (NXDOMAIN included); DohFailure otherwise."""
        return await in_daemon_thread(lambda: self.query_blocking(name, rdtype), name="nat1-doh")

    def query_blocking(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        import requests

        qname = dns.name.from_text(name)
        request = dns.message.make_query(qname, rdtype)
        request.id = 0  # RFC 8484 section 4.1: 0, so that HTTP caches can share answers
        try:
            if self.wire:
                encoded = base64.urlsafe_b64encode(request.to_wire()).rstrip(b"=").decode()
                reply = requests.get(self.url, params={"dns": encoded}, headers={"Accept": _WIRE_TYPE},
                                     timeout=self.timeout, verify=self.verify, allow_redirects=False)
            else:
                reply = requests.get(self.url, params={"name": qname.to_text(), "type": dns.rdatatype.to_text(rdtype)},
                                     headers={"Accept": _JSON_TYPE}, timeout=self.timeout, verify=self.verify,
                                     allow_redirects=False)
        except requests.RequestException as exc:
            raise DohFailure(type(exc).__name__) from exc
        if reply.status_code != 200:
            raise DohFailure(f"HTTP {reply.status_code}")
        body = reply.content[:_MAX_REPLY + 1]
        if len(body) > _MAX_REPLY:
            raise DohFailure("reply too large")
        response = _from_wire(request, body) if self.wire else _from_json(request, body)
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DohFailure(dns.rcode.to_text(response.rcode()))
        return response


def _from_wire(request: dns.message.Message, body: bytes) -> dns.message.Message:
    try:
        response = dns.message.from_wire(body)
    except dns.exception.DNSException as exc:
        raise DohFailure(f"not a DNS message: {type(exc).__name__}") from exc
    if not request.is_response(response):
        raise DohFailure("the answer is for another question")
    return response


def _from_json(request: dns.message.Message, body: bytes) -> dns.message.Message:
    """The JSON API's reply as the DNS message it stands for."""
    import json

    try:
        data = json.loads(body)
        status = int(data["Status"])
        answers: list[dict[str, Any]] = list(data.get("Answer") or [])
    except (ValueError, KeyError, TypeError) as exc:
        raise DohFailure(f"not a DoH JSON reply: {type(exc).__name__}") from exc
    response = dns.message.make_response(request)
    response.set_rcode(dns.rcode.Rcode.make(status))
    question = request.question[0]
    for item in answers:
        try:
            rdtype = dns.rdatatype.RdataType.make(int(item["type"]))
            owner = dns.name.from_text(str(item.get("name") or question.name.to_text()))
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, str(item["data"]))
            ttl = int(item.get("TTL", 60))
        except (ValueError, KeyError, TypeError, dns.exception.DNSException) as exc:
            raise DohFailure(f"a record the JSON reply cannot hold: {type(exc).__name__}") from exc
        rrset = response.find_rrset(response.answer, owner, dns.rdataclass.IN, rdtype, create=True)
        rrset.add(rdata, ttl)
    return response


def answer_of(response: dns.message.Message, name: str, rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer:
    """dnspython's view of a response: CNAMEs followed; NXDOMAIN / NoAnswer raised."""
    qname = dns.name.from_text(name)
    if response.rcode() == dns.rcode.NXDOMAIN:
        raise dns.resolver.NXDOMAIN(qnames=[qname], responses={qname: response})  # type: ignore[no-untyped-call]
    answer = dns.resolver.Answer(qname, rdtype, dns.rdataclass.IN, response)  # type: ignore[arg-type]
    if answer.rrset is None:
        raise dns.resolver.NoAnswer(response=response)  # type: ignore[no-untyped-call]
    return answer


def _without_fake_ips(answer: dns.resolver.Answer, name: str) -> dns.resolver.Answer:
    """Drop fake-IP A records from ``answer.rrset``; DohFailure when nothing else is left."""
    rrset = answer.rrset
    if rrset is None or rrset.rdtype != dns.rdatatype.A:
        return answer
    kept = []
    for rdata in rrset:
        if is_fake_ip(ipaddress.ip_address(rdata.address)):
            log.warning(t("resolver.fake_ip", name=name, ip=rdata.address))
        else:
            kept.append(rdata)
    if not kept:
        raise DohFailure("fake-IP answer")
    if len(kept) != len(rrset):
        answer.rrset = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, kept)
    return answer


class DohLookups:
    """Address lookups over DoH with a fallback to the system; one WARNING per failing name."""

    def __init__(self, client: DohClient) -> None:
        self.client = client
        self._warned: set[str] = set()

    async def answer(self, name: str, rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer:
        """DoH answer for ``name``; DohFailure when the server cannot answer."""
        fqdn = name.rstrip(".") + "."
        answer = _without_fake_ips(answer_of(await self.client.query(fqdn, rdtype), fqdn, rdtype), name)
        self._warned.discard(name)
        return answer

    def fell_back(self, name: str, error: object) -> None:
        message = t("resolver.fallback", name=name, error=error)
        if name in self._warned:
            log.debug("%s", message)
        else:
            self._warned.add(name)
            log.warning(message)

    async def addresses(self, host: str, family: int) -> list[IPAddress]:
        """``host``'s addresses of ``family`` (the ``net.set_name_lookup`` seam)."""
        rdtype = dns.rdatatype.AAAA if family == socket.AF_INET6 else dns.rdatatype.A
        try:
            answer = await self.answer(host, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except DohFailure as exc:
            self.fell_back(host, exc)
            return await system_addresses(host, family)
        return [ipaddress.ip_address(r.address) for r in answer]


async def system_addresses(host: str, family: int) -> list[IPAddress]:
    """The system resolver's addresses, without fake-IP ones (used only as the fallback)."""
    import asyncio

    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if is_fake_ip(address):
            log.warning(t("resolver.fake_ip", name=host, ip=address))
        elif address not in found:
            found.append(address)
    return found


class DohResolver(dns.asyncresolver.Resolver):
    """A dnspython async resolver that asks the DoH server (for ``query.run_query``).

    On a DoH failure it asks the system's resolver (``/etc/resolv.conf``), once, with a
    WARNING; fake-IP A records are dropped from either answer.
    """

    def __init__(self, lookups: DohLookups) -> None:
        super().__init__(configure=False)
        self.lookups = lookups
        self._system: dns.asyncresolver.Resolver | None = None

    async def resolve(  # noqa: PLR0917  # dnspython's signature
        self,
        qname: dns.name.Name | str,
        rdtype: dns.rdatatype.RdataType | str = dns.rdatatype.A,
        rdclass: dns.rdataclass.RdataClass | str = dns.rdataclass.IN,
        tcp: bool = False,
        source: str | None = None,
        raise_on_no_answer: bool = True,
        source_port: int = 0,
        lifetime: float | None = None,
        search: bool | None = None,
        backend: dns._asyncbackend.Backend | None = None,
    ) -> dns.resolver.Answer:
        name = qname.to_text() if isinstance(qname, dns.name.Name) else qname
        kind = dns.rdatatype.RdataType.make(rdtype)
        try:
            return await self.lookups.answer(name, kind)
        except DohFailure as exc:
            self.lookups.fell_back(name.rstrip("."), exc)
        system = await self._system_resolver()
        answer = await system.resolve(name, kind, lifetime=lifetime, search=False)
        return _without_fake_ips(answer, name.rstrip("."))

    async def _system_resolver(self) -> dns.asyncresolver.Resolver:
        if self._system is None:
            import asyncio

            self._system = await asyncio.to_thread(dns.asyncresolver.Resolver)
        return self._system


def lookups_for(setting: str | None) -> DohLookups | None:
    """The DoH lookups for a ``resolver`` setting; None for the system resolver."""
    if setting is None or setting == SYSTEM:
        return None
    return DohLookups(DohClient(setting))
