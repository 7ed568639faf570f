"""A stateful fake of Alibaba Cloud DNS (AliDNS, version 2015-01-09), RPC style.

The installed SDK (alibabacloud_tea_openapi ``do_request``) signs with the V3
method, ACS3-HMAC-SHA256; this fake verifies it from the published algorithm
("V3 request structure and signature", Alibaba Cloud SDK docs):

    CanonicalRequest = Method \\n URI \\n CanonicalQuery \\n CanonicalHeaders \\n SignedHeaders \\n HashedPayload
      CanonicalQuery: parameters sorted by name, RFC 3986 percent-encoded ``k=v`` joined by ``&``
      CanonicalHeaders: each signed header ``lowercase-name:trimmed-value\\n``, sorted;
        host and every x-acs-* header must be signed
      HashedPayload: hex(sha256(body)), equal to the x-acs-content-sha256 header
    StringToSign = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Signature = hex(HMAC-SHA256(AccessKeySecret, StringToSign))

Errors use AliDNS's JSON error body (RequestId, HostId, Code, Message, Recommend).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote

from tests.support.dns.server import FakeApi, Reply, Request, StoredRecord


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def acs3_signature(secret: str, request: Request, signed_headers: list[str]) -> str:
    query = sorted(parse_qsl(request.raw_query, keep_blank_values=True))
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query)
    canonical_headers = "".join(f"{h}:{request.headers.get(h, '').strip()}\n" for h in signed_headers)
    canonical_request = "\n".join([
        request.method,
        request.path or "/",
        canonical_query,
        canonical_headers,
        ";".join(signed_headers),
        hashlib.sha256(request.body).hexdigest(),
    ])
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


class FakeAliDns(FakeApi):
    def __init__(self, zone: str, access_key_id: str, access_key_secret: str) -> None:
        super().__init__(zone)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.forbidden = False
        self.signatures_checked = 0
        self.noop_updates = 0

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply.of(status, {"RequestId": str(uuid.uuid4()).upper(), "HostId": "alidns.aliyuncs.com",
                                 "Code": code, "Message": message,
                                 "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}"})

    def ok(self, payload: dict[str, object]) -> Reply:
        return Reply.of(200, {**payload, "RequestId": str(uuid.uuid4()).upper()})

    def rate_limited_reply(self) -> Reply:
        return self.error(400, "Throttling.User", "Request was denied due to user flow control.")

    def inject_rate_limit_after(self, seconds: int) -> None:
        reply = self.rate_limited_reply()
        reply.headers["x-acs-retry-after"] = str(seconds * 1000)  # milliseconds
        self.inject(reply)

    def is_write(self, request: Request) -> bool:
        return request.headers.get("x-acs-action") in ("AddDomainRecord", "UpdateDomainRecord", "DeleteDomainRecord")

    def _check_signature(self, request: Request) -> Reply | None:
        auth = request.headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            credential, signature = parts["Credential"], parts["Signature"]
            signed_headers = parts["SignedHeaders"].split(";")
        except (KeyError, ValueError):
            return self.error(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if algorithm != "ACS3-HMAC-SHA256":
            return self.error(400, "IncompleteSignature", "Unsupported signature algorithm.")
        required = {"host"} | {h for h in request.headers if h.startswith("x-acs-")}
        if not required <= set(signed_headers) or signed_headers != sorted(signed_headers):
            return self.error(400, "IncompleteSignature", "Host and all x-acs-* headers must be signed.")
        if request.headers.get("x-acs-content-sha256") != hashlib.sha256(request.body).hexdigest():
            return self.error(400, "IncompleteSignature", "x-acs-content-sha256 does not match the body.")
        try:
            sent = datetime.strptime(request.headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return self.error(400, "InvalidTimeStamp.Format",
                              "Specified time stamp or date value is not well formatted.")
        if abs((datetime.now(timezone.utc).replace(tzinfo=None) - sent).total_seconds()) > 900:
            return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if credential != self.access_key_id:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        expected = acs3_signature(self.access_key_secret, request, signed_headers)
        if not hmac.compare_digest(expected, signature):
            return self.error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        if request.headers.get("x-acs-version") != "2015-01-09":
            return self.error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        self.signatures_checked += 1
        return None

    def _json(self, record: StoredRecord) -> dict[str, object]:
        return {"DomainName": self.store.zone, "RecordId": str(record.id), "RR": self.store.relative(record.name),
                "Type": record.type, "Value": record.value, "TTL": record.ttl, "Line": "default",
                "Status": "ENABLE", "Locked": False, "Weight": 1}

    def _fields(self, params: dict[str, str]) -> tuple[str, str, str, int] | Reply:
        rtype, value = params.get("Type", ""), params.get("Value", "")
        if rtype == "A":
            try:
                value = str(ipaddress.IPv4Address(value))
            except ValueError:
                return self.error(400, "InvalidRecordValue", "The parameter value Value is invalid.")
        elif rtype == "SRV":
            parts = value.split()
            if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or parts[3].endswith("."):
                return self.error(400, "InvalidRecordValue", "The parameter value Value is invalid.")
            value = " ".join([*parts[:3], parts[3].lower()])
        ttl = int(params.get("TTL", "600"))
        if not 1 <= ttl <= 86400:
            return self.error(400, "DomainRecordTTLCheck", "The TTL value is invalid.")
        return self.store.absolute(params.get("RR", "@")), rtype, value, ttl

    def handle(self, request: Request) -> Reply:
        denied = self._check_signature(request)
        if denied is not None:
            return denied
        if self.forbidden:
            return self.error(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")
        params = dict(request.query)
        if request.body and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        action = request.headers.get("x-acs-action")
        if action in ("DescribeDomainRecords", "AddDomainRecord") and params.get("DomainName") != self.store.zone:
            return self.error(400, "InvalidDomainName.NoExist", "The specified domain name does not exist.")
        if action == "DescribeDomainRecords":
            keyword, rtype = params.get("RRKeyWord"), params.get("Type")
            # RRKeyWord is a fuzzy filter; an unindexed name is missing from filtered listings only.
            matches = [r for r in self.store.records
                       if (keyword is None or (keyword.lower() in self.store.relative(r.name)
                                               and r.name not in self.unindexed))
                       and (rtype is None or r.type == rtype)]
            page, size = int(params.get("PageNumber", "1")), min(int(params.get("PageSize", "20")), self.max_page_size)
            chunk = matches[(page - 1) * size: page * size]
            return self.ok({"TotalCount": len(matches), "PageNumber": page, "PageSize": size,
                            "DomainRecords": {"Record": [self._json(r) for r in chunk]}})
        if action == "DeleteDomainRecord":
            if not self.store.delete(int(params.get("RecordId", "0"))):
                return self.error(400, "DomainRecordNotBelongToUser", "The DNS record does not belong to you.")
            return self.ok({"RecordId": params.get("RecordId", "")})
        if action in ("AddDomainRecord", "UpdateDomainRecord"):
            fields = self._fields(params)
            if isinstance(fields, Reply):
                return fields
            name, rtype, value, ttl = fields
            if action == "AddDomainRecord":
                if any(r.value == value for r in self.store.find(name, rtype)):
                    return self.error(400, "DomainRecordDuplicate", "The DNS record already exists.")
                return self.ok({"RecordId": str(self.store.add(name, rtype, value, ttl).id)})
            record = self.store.get(int(params.get("RecordId", "0")))
            if record is None:
                return self.error(400, "DomainRecordNotBelongToUser", "The DNS record does not belong to you.")
            if (record.name, record.type, record.value, record.ttl) == (name, rtype, value, ttl):
                self.noop_updates += 1
                return self.error(400, "DomainRecordDuplicate", "The DNS record already exists.")
            record.name, record.type, record.value, record.ttl = name, rtype, value, ttl
            return self.ok({"RecordId": str(record.id)})
        return self.error(404, "InvalidAction.NotFound", f"Specified api {action} is not found.")
