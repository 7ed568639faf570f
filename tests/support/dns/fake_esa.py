"""A stateful fake of Alibaba Cloud ESA (API 2024-09-10), RPC style: sites, records, origin rules.

Every request must carry a valid ACS3-HMAC-SHA256 signature (checked with the
AliDNS fake's ``acs3_signature``, from the published algorithm) and version
2024-09-10. Errors are JSON ``{"RequestId", "Code", "Message"}`` with a 4xx status.
Served: ListSites, ListRecords, UpdateRecord, ListOriginRules, UpdateOriginRule.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from tests.support.dns.fake_alidns import acs3_signature
from tests.support.dns.server import FakeApi, Reply, Request

VERSION = "2024-09-10"
WRITES = ("UpdateRecord", "UpdateOriginRule")


@dataclass
class EsaRecord:
    id: int
    name: str
    value: str
    ttl: int = 1


@dataclass
class EsaRule:
    id: int
    name: str
    http_port: str = "80"
    https_port: str = "443"


class FakeEsa(FakeApi):
    def __init__(self, zone: str, access_key_id: str, access_key_secret: str) -> None:
        super().__init__(zone)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.site_id = 5407498413
        self.records: dict[str, EsaRecord] = {}
        self.rules: dict[str, EsaRule] = {}
        self.forbidden = False
        self.signatures_checked = 0

    def error(self, status: int, code: str, message: str) -> Reply:
        return Reply.of(status, {"RequestId": str(uuid.uuid4()).upper(), "HostId": "esa.cn-hangzhou.aliyuncs.com",
                                 "Code": code, "Message": message})

    def ok(self, payload: dict[str, object]) -> Reply:
        return Reply.of(200, {**payload, "RequestId": str(uuid.uuid4()).upper()})

    def rate_limited_reply(self) -> Reply:
        return self.error(400, "Throttling.User", "Request was denied due to user flow control.")

    def is_write(self, request: Request) -> bool:
        return request.headers.get("x-acs-action") in WRITES

    def _check_signature(self, request: Request) -> Reply | None:
        try:
            algorithm, rest = request.headers.get("authorization", "").split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
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
            return self.error(400, "InvalidTimeStamp.Format", "Specified time stamp is not well formatted.")
        if abs((datetime.now(timezone.utc).replace(tzinfo=None) - sent).total_seconds()) > 900:
            return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not request.headers.get("x-acs-signature-nonce"):
            return self.error(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        if parts["Credential"] != self.access_key_id:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        expected = acs3_signature(self.access_key_secret, request, signed_headers)
        if not hmac.compare_digest(expected, parts["Signature"]):
            return self.error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        if request.headers.get("x-acs-version") != VERSION:
            return self.error(400, "InvalidVersion", "Specified parameter Version is not valid.")
        self.signatures_checked += 1
        return None

    def handle(self, request: Request) -> Reply:
        denied = self._check_signature(request)
        if denied is not None:
            return denied
        if self.forbidden:
            return self.error(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")
        params, action = dict(request.query), request.headers.get("x-acs-action")
        if action == "ListSites":
            sites = [{"SiteId": self.site_id, "SiteName": self.store.zone, "Status": "active"}]
            sites = [s for s in sites if params.get("SiteName") in (None, s["SiteName"])]
            return self.ok({"TotalCount": len(sites), "Sites": sites})
        if params.get("SiteId") not in (None, str(self.site_id)):
            return self.error(400, "SiteNotFound", "The site does not exist.")
        if action == "ListRecords":
            found = [r for r in self.records.values() if params.get("RecordName") in (None, r.name)]
            return self.ok({"TotalCount": len(found), "Records": [
                {"RecordId": r.id, "RecordName": r.name, "RecordType": "A/AAAA", "Ttl": r.ttl, "Proxied": True,
                 "SiteId": self.site_id, "Data": {"Value": r.value}} for r in found]})
        if action == "UpdateRecord":
            record = next((r for r in self.records.values() if str(r.id) == params.get("RecordId")), None)
            if record is None:
                return self.error(400, "RecordNotFound", "The record does not exist.")
            try:
                data = json.loads(params.get("Data", ""))
                record.value = str(ipaddress.ip_address(data["Value"]))
            except (ValueError, KeyError, TypeError):
                return self.error(400, "InvalidParameter.Data", "The specified Data is invalid.")
            if "Ttl" in params:
                record.ttl = int(params["Ttl"])
            return self.ok({})
        if action == "ListOriginRules":
            rules = [r for r in self.rules.values() if params.get("RuleName") in (None, r.name)]
            return self.ok({"TotalCount": len(rules), "Configs": [
                {"ConfigId": r.id, "RuleName": r.name, "RuleEnable": "on", "OriginHttpPort": r.http_port,
                 "OriginHttpsPort": r.https_port, "ConfigType": "rule", "Sequence": 1} for r in rules]})
        if action == "UpdateOriginRule":
            rule = next((r for r in self.rules.values() if str(r.id) == params.get("ConfigId")), None)
            if rule is None:
                return self.error(400, "ConfigNotFound", "The config does not exist.")
            for key, attr in (("OriginHttpPort", "http_port"), ("OriginHttpsPort", "https_port")):
                if key in params:
                    value = params[key]
                    if not value.isdigit() or not 1 <= int(value) <= 65535:
                        return self.error(400, "InvalidParameter.OriginPort", "The origin port is invalid.")
                    setattr(rule, attr, value)
            return self.ok({})
        return self.error(404, "InvalidAction.NotFound", f"Specified api {action} is not found.")
