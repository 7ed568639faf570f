"""A DNS-over-HTTPS server for tests (plain HTTP on 127.0.0.1): the JSON API at ``/resolve``
and RFC 8484 GET at ``/dns-query``, answering from a table of records with dnspython."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from tests.support.receivers import Reply, Request, Responder

Records = dict[tuple[str, str], list[str]]  # ("mc.example.test.", "A") -> ["127.0.0.1"]


def _lookup(records: Records, name: str, rdtype: str) -> tuple[dns.rcode.Rcode, list[tuple[str, str, str]]]:
    """(rcode, [(owner, type, data)]) with one CNAME step followed."""
    name = name if name.endswith(".") else name + "."
    found = [(name, rdtype, data) for data in records.get((name, rdtype), [])]
    if not found:
        for target in records.get((name, "CNAME"), []):
            found = [(name, "CNAME", target)] + [(target, rdtype, d) for d in records.get((target, rdtype), [])]
    exists = any(owner == name for owner, _ in records)
    return (dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN), found


def doh_responder(records: Records, *, fail_first: int = 0, status: int = 500) -> Responder:
    """Answer DoH queries from ``records``; the first ``fail_first`` requests get ``status``."""

    def respond(request: Request, number: int) -> Reply:
        if number < fail_first:
            return Reply(status, b"unavailable")
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if parts.path.endswith("/dns-query"):
            raw = base64.urlsafe_b64decode(query["dns"][0] + "=" * (-len(query["dns"][0]) % 4))
            question = dns.message.from_wire(raw)
            qname = question.question[0].name.to_text()
            qtype = dns.rdatatype.to_text(question.question[0].rdtype)
            rcode, found = _lookup(records, qname, qtype)
            response = dns.message.make_response(question)
            response.set_rcode(rcode)
            for owner, rdtype, data in found:
                rrset = response.find_rrset(response.answer, dns.name.from_text(owner), dns.rdataclass.IN,
                                            dns.rdatatype.from_text(rdtype), create=True)
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), data), 60)
            return Reply(200, response.to_wire(), {"Content-Type": "application/dns-message"})
        name, qtype = query["name"][0], query.get("type", ["A"])[0]
        rcode, found = _lookup(records, name, qtype)
        body = {
            "Status": int(rcode),
            "Question": [{"name": name, "type": int(dns.rdatatype.from_text(qtype))}],
            "Answer": [{"name": owner, "type": int(dns.rdatatype.from_text(rdtype)), "TTL": 60, "data": data}
                       for owner, rdtype, data in found],
        }
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/dns-json"})

    return respond
