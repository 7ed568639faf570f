"""A stateful fake of Tencent Cloud EdgeOne (TEO API 2022-09-01): sites and acceleration domains.

Every request must carry a valid TC3-HMAC-SHA256 signature for service ``teo`` and
version 2022-09-01, verified from the published algorithm ("Signature v3"), as the
DNSPod fake does. Answers are HTTP 200 with ``{"Response": {...}}``; errors carry
``Response.Error.Code/Message``. Only what the origin update needs is served:
DescribeZones, DescribeAccelerationDomains and ModifyAccelerationDomain.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from tests.support.dns.server import FakeApi, Reply, Request

SERVICE = "teo"
VERSION = "2022-09-01"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, request: Request, timestamp: int, date: str, signed_headers: list[str],
                  service: str = SERVICE) -> str:
    canonical_headers = "".join(f"{h}:{request.headers.get(h, '').strip().lower()}\n" for h in signed_headers)
    canonical_request = "\n".join([request.method, request.path or "/", request.raw_query, canonical_headers,
                                   ";".join(signed_headers), hashlib.sha256(request.body).hexdigest()])
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    k_date = _hmac(("TC3" + secret_key).encode(), date)
    k_signing = _hmac(_hmac(k_date, service), "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class AccelerationDomain:
    name: str
    origin_type: str = "IP_DOMAIN"
    origin: str = "192.0.2.1"
    http_port: int = 80
    https_port: int = 443
    protocol: str = "FOLLOW"


class FakeTeo(FakeApi):
    def __init__(self, zone: str, secret_id: str, secret_key: str) -> None:
        super().__init__(zone)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.zone_id = "zone-2o0i8ct5xe1c"
        self.domains: dict[str, AccelerationDomain] = {}
        self.forbidden = False
        self.signatures_checked = 0

    def error(self, code: str, message: str) -> Reply:
        return Reply.of(200, {"Response": {"Error": {"Code": code, "Message": message},
                                           "RequestId": str(uuid.uuid4())}})

    def ok(self, payload: dict[str, object]) -> Reply:
        return Reply.of(200, {"Response": {**payload, "RequestId": str(uuid.uuid4())}})

    def rate_limited_reply(self) -> Reply:
        return self.error("RequestLimitExceeded", "请求的次数超过了频率限制。")

    def is_write(self, request: Request) -> bool:
        return request.headers.get("x-tc-action") == "ModifyAccelerationDomain"

    def counts_as_write(self, request: Request, reply: Reply) -> bool:
        return b'"Error"' not in reply.body

    def _check_signature(self, request: Request) -> Reply | None:
        try:
            algorithm, rest = request.headers.get("authorization", "").split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, terminator = parts["Credential"].split("/")
            signed_headers = parts["SignedHeaders"].split(";")
            timestamp = int(request.headers["x-tc-timestamp"])
        except (KeyError, ValueError):
            return self.error("AuthFailure.InvalidAuthorization", "Authorization 格式错误。")
        if algorithm != "TC3-HMAC-SHA256" or service != SERVICE or terminator != "tc3_request":
            return self.error("AuthFailure.InvalidAuthorization", "Authorization 格式错误。")
        if not {"content-type", "host"} <= set(signed_headers):
            return self.error("AuthFailure.InvalidAuthorization", "content-type 和 host 必须参与签名。")
        if abs(time.time() - timestamp) > 300:
            return self.error("AuthFailure.SignatureExpire", "签名过期。")
        if datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d") != date:
            return self.error("AuthFailure.InvalidAuthorization", "Credential 日期与时间戳不符。")
        if secret_id != self.secret_id:
            return self.error("AuthFailure.SecretIdNotFound", "密钥不存在。")
        expected = tc3_signature(self.secret_key, request, timestamp, date, signed_headers)
        if not hmac.compare_digest(expected, parts["Signature"]):
            return self.error("AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。")
        if request.headers.get("x-tc-version") != VERSION:
            return self.error("InvalidParameter", "Version 不正确。")
        self.signatures_checked += 1
        return None

    @staticmethod
    def _filter(body: dict[str, object], name: str) -> list[str] | None:
        filters = body.get("Filters")
        for item in filters if isinstance(filters, list) else []:
            if isinstance(item, dict) and item.get("Name") == name:
                values = item.get("Values")
                return [str(v) for v in values] if isinstance(values, list) else []
        return None

    def _domain_json(self, domain: AccelerationDomain) -> dict[str, object]:
        return {"ZoneId": self.zone_id, "DomainName": domain.name, "DomainStatus": "online",
                "OriginDetail": {"OriginType": domain.origin_type, "Origin": domain.origin, "BackupOrigin": "",
                                 "PrivateAccess": "off"},
                "OriginProtocol": domain.protocol, "HttpOriginPort": domain.http_port,
                "HttpsOriginPort": domain.https_port, "IPv6Status": "follow", "Cname": f"{domain.name}.eo.dnse1.com"}

    def handle(self, request: Request) -> Reply:
        denied = self._check_signature(request)
        if denied is not None:
            return denied
        if self.forbidden:
            return self.error("UnauthorizedOperation", "CAM签名/鉴权错误。")
        action = request.headers.get("x-tc-action")
        body = request.json()
        if action == "DescribeZones":
            names = self._filter(body, "zone-name")
            zones = [{"ZoneId": self.zone_id, "ZoneName": self.store.zone, "Status": "active"}]
            if names is not None:
                zones = [z for z in zones if z["ZoneName"] in names]
            return self.ok({"TotalCount": len(zones), "Zones": zones})
        if body.get("ZoneId") != self.zone_id:
            return self.error("ResourceNotFound", "站点不存在。")
        if action == "DescribeAccelerationDomains":
            names = self._filter(body, "domain-name")
            found = [d for d in self.domains.values() if names is None or d.name in names]
            return self.ok({"TotalCount": len(found), "AccelerationDomains": [self._domain_json(d) for d in found]})
        if action == "ModifyAccelerationDomain":
            domain = self.domains.get(str(body.get("DomainName", "")))
            if domain is None:
                return self.error("ResourceNotFound", "加速域名不存在。")
            info = body.get("OriginInfo")
            if isinstance(info, dict):
                if info.get("OriginType") != "IP_DOMAIN":
                    return self.error("InvalidParameter.InvalidOriginType", "源站类型不正确。")
                try:
                    ipaddress.ip_address(str(info.get("Origin")))
                except ValueError:
                    return self.error("InvalidParameter.InvalidOrigin", "源站不正确。")
                domain.origin_type, domain.origin = "IP_DOMAIN", str(info["Origin"])
            for key, attr in (("HttpOriginPort", "http_port"), ("HttpsOriginPort", "https_port")):
                if key in body:
                    port = body[key]
                    if not isinstance(port, int) or not 1 <= port <= 65535:
                        return self.error("InvalidParameter.InvalidOriginPort", "回源端口不正确。")
                    setattr(domain, attr, port)
            return self.ok({})
        return self.error("InvalidAction", f"接口 {action} 不存在。")
