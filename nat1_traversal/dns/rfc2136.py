"""RFC 2136 dynamic update with TSIG (RFC 8945) against the zone's primary, via dnspython.

``id`` = TSIG key name, ``token`` = base64 secret, ``endpoint`` = "host[:port]"
of the primary.  The current A/SRV RRsets are read from the primary first; the
ones that differ are replaced in ONE update message (RFC 2136 §3.4.2: delete the
RRset and add the new RR in the same message, applied atomically), then read
back.  Everything runs on dnspython's asyncio API over TCP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

from nat1_traversal.addr import parse_host_port
from nat1_traversal.config import DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, Provider, Record, SrvData
from nat1_traversal.errors import NetTimeout, NetworkError, ProviderAuthError, ProviderError, ZoneNotFound

log = logging.getLogger(__name__)

DEFAULT_PORT = 53
DEFAULT_TTL = 60  # short: the record follows a NAT mapping that may change at any time


class RedactedTsigKey(dns.tsig.Key):
    """A TSIG key whose repr/str never show the secret (dnspython's own repr does)."""

    def __repr__(self) -> str:
        return f"<TSIG key {self.name} {self.algorithm} secret=******>"

    __str__ = __repr__


def split_host_port(endpoint: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 literal (the one grammar, addr.py)."""
    where = parse_host_port(endpoint, DEFAULT_PORT)
    return where.host, where.port


class Rfc2136Provider(Provider):
    label = "RFC 2136"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        self._host, self._port = split_host_port(settings.endpoint or "")
        self._server = f"{self._host}:{self._port}"
        self._zone = dns.name.from_text((settings.domain or "").strip(".") + ".")
        self._key = RedactedTsigKey(
            dns.name.from_text(settings.id or ""),
            settings.token.reveal() if settings.token else "",
            dns.name.from_text(settings.tsig_algorithm),
        )
        self._address: str | None = None

    async def _where(self) -> str:
        if self._address is None:
            try:
                self._address = str(ipaddress.ip_address(self._host))
            except ValueError:
                try:
                    infos = await asyncio.get_running_loop().getaddrinfo(self._host, self._port)
                except OSError as exc:
                    raise NetworkError("dns.network", provider=self.label, detail=str(exc)) from exc
                self._address = str(infos[0][4][0])
        return self._address

    async def _send(self, message: dns.message.Message) -> dns.message.Message:
        where = await self._where()
        try:
            return await dns.asyncquery.tcp(message, where, port=self._port, timeout=self.timeout)
        except dns.tsig.PeerError as exc:
            raise ProviderAuthError(
                "dns.rfc2136_bad_key", hint="dns.hint.tsig", server=self._server, key=self._key.name,
                detail=type(exc).__name__,
            ) from exc
        except dns.exception.Timeout as exc:
            raise NetTimeout("dns.timeout", provider=self._server, seconds=self.timeout) from exc
        except (OSError, EOFError) as exc:
            raise NetworkError("dns.network", provider=self._server, detail=type(exc).__name__) from exc
        except dns.exception.DNSException as exc:
            raise ProviderError("dns.api_error", provider=self._server, detail=type(exc).__name__) from exc

    def _check_rcode(self, response: dns.message.Message) -> None:
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        zone = self._zone.to_text(omit_final_dot=True)
        if rcode == dns.rcode.NOTAUTH:
            raise ProviderAuthError(
                "dns.rfc2136_bad_key", hint="dns.hint.tsig", server=self._server, key=self._key.name, detail=text
            )
        if rcode == dns.rcode.REFUSED:
            raise ProviderAuthError("dns.rfc2136_refused", hint="dns.hint.rfc2136_acl", server=self._server, rcode=text)
        if rcode == dns.rcode.NOTZONE:
            raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self._server, zone=zone)
        raise ProviderError("dns.api_error", provider=self._server, detail=text)

    def _with_ttl(self, record: Record) -> Record:
        return record if record.ttl is not None else Record(record.type, record.name, record.data, DEFAULT_TTL)

    @staticmethod
    def _rdata(record: Record) -> dns.rdata.Rdata:
        text = record.data.text() if isinstance(record.data, SrvData) else record.data
        return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(record.type), text)

    async def _current(self, record: Record) -> list[Record]:
        """The RRset the primary holds for record's name and type."""
        query = dns.message.make_query(record.name + ".", record.type)
        response = await self._send(query)
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return []
        if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
            # The server does not serve the zone at all.
            raise ZoneNotFound("dns.zone_not_found", hint="dns.hint.zone", provider=self._server,
                               zone=self._zone.to_text(omit_final_dot=True))
        self._check_rcode(response)
        found: list[Record] = []
        for rrset in response.answer:
            if rrset.rdtype != dns.rdatatype.from_text(record.type):
                continue
            for rdata in rrset:
                text = rdata.to_text()
                data: str | SrvData | None = SrvData.parse(text) if record.type == "SRV" else text
                if data is not None:
                    found.append(Record(record.type, record.name, data, rrset.ttl))
        return found

    async def _differs(self, record: Record) -> bool:
        current = await self._current(record)
        return not (len(current) == 1 and record.satisfied_by(current[0]))

    async def sync(self, records: Sequence[Record]) -> int:
        wanted = [self._with_ttl(r) for r in records]
        changed = [r for r in wanted if await self._differs(r)]
        if not changed:
            return 0
        update = dns.update.UpdateMessage(self._zone, keyring=self._key, keyname=self._key.name,
                                          keyalgorithm=self._key.algorithm)
        for record in changed:
            update.replace(dns.name.from_text(record.name + "."), record.ttl, self._rdata(record))
            log.debug("rfc2136: replace %s", record.describe())
        response = await self._send(update)
        self._check_rcode(response)
        return 1

    async def confirm(self, records: Sequence[Record]) -> bool:
        for record in records:
            if await self._differs(self._with_ttl(record)):
                return False
        return True
