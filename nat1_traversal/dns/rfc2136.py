"""RFC 2136 dynamic update with TSIG (RFC 8945) against the zone's primary, via dnspython.

``id`` = TSIG key name, ``token`` = base64 secret, ``endpoint`` = "host[:port]"
of the primary.  The current A/SRV RRsets are read from the primary first; the
ones that differ are replaced in ONE update message (RFC 2136 §3.4.2: delete the
RRset and add the new RR in the same message, applied atomically), then read
back.  Messages go over TCP (asyncio streams); dnspython builds, signs and
checks them, and is imported when the provider is created.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ipaddress
import logging
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nat1_traversal.addr import parse_host_port
from nat1_traversal.config import TSIG_ALGORITHMS, DnsSettings
from nat1_traversal.dns.base import REQUEST_TIMEOUT, Provider, Record, SrvData
from nat1_traversal.dns.sdk import require
from nat1_traversal.dns.spec import ProviderSpec
from nat1_traversal.errors import NetTimeout, NetworkError, ProviderAuthError, ProviderError, ZoneNotFound
from nat1_traversal.i18n import t

if TYPE_CHECKING:
    import dns.message
    import dns.rdata
    import dns.tsig

log = logging.getLogger(__name__)

DEFAULT_PORT = 53
DEFAULT_TTL = 60  # short: the record follows a NAT mapping that may change at any time
MAX_MESSAGE = 65535
# The names users write (BIND/Knot configs) -> the algorithm names dnspython knows (RFC 8945 §6).
ALGORITHM_NAMES: dict[str, str] = {
    "hmac-md5": "HMAC-MD5.SIG-ALG.REG.INT.",
    "hmac-sha1": "hmac-sha1.",
    "hmac-sha224": "hmac-sha224.",
    "hmac-sha256": "hmac-sha256.",
    "hmac-sha384": "hmac-sha384.",
    "hmac-sha512": "hmac-sha512.",
}
_RCODE_REFUSED, _RCODE_NOTAUTH = 5, 9
# Imported where used (the registry imports this module without them); checked at creation.
_DNSPYTHON = ("rfc2136", "dnspython", "dns.message", "dns.name", "dns.rcode", "dns.rdata", "dns.rdatatype",
              "dns.tsig", "dns.update")


def algorithm_name(configured: str) -> str:
    """The dnspython spelling of a configured ``tsig_algorithm`` ("hmac-md5" -> HMAC-MD5.SIG-ALG.REG.INT.)."""
    short = configured.strip().lower().rstrip(".")
    if short == "hmac-md5.sig-alg.reg.int":
        short = "hmac-md5"
    return ALGORITHM_NAMES.get(short, configured)


@functools.cache
def _redacted_key_class() -> type[dns.tsig.Key]:
    import dns.tsig

    class RedactedTsigKey(dns.tsig.Key):
        """A TSIG key whose repr/str never show the secret (dnspython's own repr does)."""

        def __repr__(self) -> str:
            return f"<TSIG key {self.name} {self.algorithm} secret=******>"

        __str__ = __repr__

    return RedactedTsigKey


def redacted_key(name: str, secret: str, algorithm: str) -> dns.tsig.Key:
    """A TSIG key for ``name`` whose repr never shows ``secret``; ``algorithm`` as configured."""
    import dns.name

    return _redacted_key_class()(dns.name.from_text(name), secret, dns.name.from_text(algorithm_name(algorithm)))


def split_host_port(endpoint: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 literal (the one grammar, addr.py)."""
    where = parse_host_port(endpoint, DEFAULT_PORT)
    return where.host, where.port



class Rfc2136Provider(Provider):
    label = "RFC 2136"

    def __init__(self, settings: DnsSettings, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(settings, timeout=timeout)
        require(*_DNSPYTHON)
        import dns.name
        self._host, self._port = split_host_port(settings.endpoint or "")
        self._server = f"{self._host}:{self._port}"
        self._zone = dns.name.from_text((settings.domain or "").strip(".") + ".")
        self._key = redacted_key(settings.id or "", settings.token.reveal() if settings.token else "",
                                 settings.tsig_algorithm)
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

    def _key_rejected(self, detail: str) -> ProviderAuthError:
        return ProviderAuthError("dns.rfc2136_bad_key", hint="dns.hint.tsig", server=self._server,
                                 key=self._key.name, detail=detail)

    async def _exchange(self, message: dns.message.Message) -> dns.message.Message:
        """Send ``message`` over TCP and return the checked reply (RFC 1035 §4.2.2 framing)."""
        import dns.exception
        import dns.message

        wire = message.to_wire()
        reader, writer = await asyncio.open_connection(await self._where(), self._port)
        try:
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            reply = await reader.readexactly(size)
        finally:
            writer.close()
        try:
            response: dns.message.Message = dns.message.from_wire(
                reply, keyring=message.keyring, request_mac=message.mac)
        except dns.exception.FormError:
            # PowerDNS answers a request signed with an unknown key or a wrong algorithm with
            # an unsigned, truncated REFUSED/NOTAUTH that does not parse (BIND and Knot sign
            # a NOTAUTH/BADKEY, which dnspython reports as a PeerError).
            rcode = reply[3] & 0x0F if len(reply) >= 4 else None
            if message.keyring is not None and rcode in (_RCODE_REFUSED, _RCODE_NOTAUTH):
                raise ProviderAuthError("dns.rfc2136_key_refused", hint="dns.hint.tsig", server=self._server,
                                        key=self._key.name,
                                        rcode="REFUSED" if rcode == _RCODE_REFUSED else "NOTAUTH") from None
            raise
        if not message.is_response(response):
            raise ProviderError("dns.api_error", provider=self._server, detail="BadResponse")
        return response

    async def _send(self, message: dns.message.Message) -> dns.message.Message:
        import dns.exception
        import dns.tsig

        try:
            return await asyncio.wait_for(self._exchange(message), self.timeout)
        except dns.tsig.PeerError as exc:
            raise self._key_rejected(type(exc).__name__) from exc
        except asyncio.TimeoutError as exc:
            raise NetTimeout("dns.timeout", provider=self._server, seconds=self.timeout) from exc
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            raise NetworkError("dns.network", provider=self._server, detail=type(exc).__name__) from exc
        except dns.exception.DNSException as exc:
            raise ProviderError("dns.api_error", provider=self._server, detail=type(exc).__name__) from exc

    def _zone_missing(self) -> ZoneNotFound:
        return ZoneNotFound("dns.zone_not_served", hint="dns.hint.zone_server", server=self._server,
                            zone=self._zone.to_text(omit_final_dot=True))

    def _check_rcode(self, response: dns.message.Message) -> None:
        import dns.rcode

        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NOTAUTH:
            raise self._key_rejected(text)
        if rcode == dns.rcode.REFUSED:
            raise ProviderAuthError("dns.rfc2136_refused", hint="dns.hint.rfc2136_acl", server=self._server, rcode=text)
        if rcode == dns.rcode.NOTZONE:
            raise self._zone_missing()
        raise ProviderError("dns.api_error", provider=self._server, detail=text)

    def _with_ttl(self, record: Record) -> Record:
        return record if record.ttl is not None else Record(record.type, record.name, record.data, DEFAULT_TTL)

    def _rdata(self, record: Record) -> dns.rdata.Rdata:
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype

        text = record.data.text() if isinstance(record.data, SrvData) else record.data
        rdata: dns.rdata.Rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(record.type), text)
        return rdata

    async def _current(self, record: Record) -> list[Record]:
        """The RRset the primary holds for record's name and type."""
        import dns.message
        import dns.rcode
        import dns.rdatatype

        query = dns.message.make_query(record.name + ".", record.type)
        response = await self._send(query)
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return []
        if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
            raise self._zone_missing()  # the server does not serve the zone at all
        self._check_rcode(response)
        found: list[Record] = []
        wanted_type = dns.rdatatype.from_text(record.type)
        for rrset in response.answer:
            if rrset.rdtype != wanted_type:
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
        import dns.name
        import dns.update

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


def _check(settings: DnsSettings) -> list[str]:
    problems: list[str] = []
    token = settings.token.reveal().strip() if settings.token is not None else ""
    if token:
        try:
            base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            problems.append(t("dns.invalid.rfc2136_secret"))
    if settings.tsig_algorithm.strip().lower().rstrip(".") not in (*TSIG_ALGORITHMS, "hmac-md5.sig-alg.reg.int"):
        problems.append(t("dns.invalid.tsig_algorithm", value=settings.tsig_algorithm,
                          choices=", ".join(TSIG_ALGORITHMS)))
    return problems


# id: the TSIG key name; token: its base64 secret; endpoint: the primary's "host[:port]".
PROVIDER = ProviderSpec("rfc2136", Rfc2136Provider, needs=frozenset({"id", "token", "domain", "endpoint"}),
                        endpoint="host_port", check=_check, order=60)
