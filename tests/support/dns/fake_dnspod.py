"""A stateful fake of Tencent Cloud DNSPod API 3.0 (version 2021-03-23).

Every request must carry a valid TC3-HMAC-SHA256 signature, verified here
from the published algorithm ("Signature v3" in the Tencent Cloud API docs):

    CanonicalRequest = Method \\n URI \\n Query \\n CanonicalHeaders \\n SignedHeaders \\n hex(sha256(payload))
    StringToSign     = "TC3-HMAC-SHA256" \\n Timestamp \\n Date/service/tc3_request \\n hex(sha256(CanonicalRequest))
    kDate = HMAC("TC3" + SecretKey, Date); kService = HMAC(kDate, service); kSigning = HMAC(kService, "tc3_request")
    Signature = hex(HMAC(kSigning, StringToSign))

Answers are always HTTP 200 with ``{"Response": {...}}``; errors carry
``Response.Error.Code/Message`` as the real service does.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
import uuid
from datetime import datetime, timezone

from tests.support.dns.server import FakeApi, Reply, Request, StoredRecord

SERVICE = "dnspod"
DEFAULT_LINE = "默认"


def _int(body: dict[str, object], key: str, default: int) -> int:
    value = body.get(key, default)
    return int(value) if isinstance(value, (int, str)) else default


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, request: Request, timestamp: int, date: str, signed_headers: list[str]) -> str:
    canonical_headers = "".join(f"{h}:{request.headers.get(h, '').strip().lower()}\n" for h in signed_headers)
    canonical_request = "\n".join([
        request.method,
        request.path or "/",
        request.raw_query,
        canonical_headers,
        ";".join(signed_headers),
        hashlib.sha256(request.body).hexdigest(),
    ])
    string_to_sign = "\n".join([
        "TC3-HMAC-SHA256",
        str(timestamp),
        f"{date}/{SERVICE}/tc3_request",
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    k_date = _hmac(("TC3" + secret_key).encode(), date)
    k_signing = _hmac(_hmac(k_date, SERVICE), "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


class FakeDnspod(FakeApi):
    def __init__(self, zone: str, secret_id: str, secret_key: str) -> None:
        super().__init__(zone)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.forbidden = False
        self.signatures_checked = 0
        # The content type of error replies; the service also sends "application/json; charset=UTF-8".
        self.error_content_type = "application/json"

    def error(self, code: str, message: str) -> Reply:
        reply = Reply.of(200, {"Response": {"Error": {"Code": code, "Message": message},
                                            "RequestId": str(uuid.uuid4())}})
        reply.content_type = self.error_content_type
        return reply

    def ok(self, payload: dict[str, object]) -> Reply:
        return Reply.of(200, {"Response": {**payload, "RequestId": str(uuid.uuid4())}})

    def rate_limited_reply(self) -> Reply:
        return self.error("RequestLimitExceeded", "请求的次数超过了频率限制。")

    def is_write(self, request: Request) -> bool:
        return request.headers.get("x-tc-action") in ("CreateRecord", "ModifyRecord", "DeleteRecord")

    def counts_as_write(self, request: Request, reply: Reply) -> bool:
        return b'"Error"' not in reply.body

    def _check_signature(self, request: Request) -> Reply | None:
        auth = request.headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, terminator = parts["Credential"].split("/")
            signed_headers = parts["SignedHeaders"].split(";")
            signature = parts["Signature"]
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
        if not hmac.compare_digest(expected, signature):
            return self.error("AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确。")
        if request.headers.get("x-tc-version") != "2021-03-23":
            return self.error("InvalidParameter", "Version 不正确。")
        self.signatures_checked += 1
        return None

    def _json(self, record: StoredRecord) -> dict[str, object]:
        return {"RecordId": record.id, "Value": record.value + ("." if record.type == "SRV" else ""),
                "Status": "ENABLE", "UpdatedOn": "2024-01-01 00:00:00", "Name": self.store.relative(record.name),
                "Line": DEFAULT_LINE, "LineId": "0", "Type": record.type, "Weight": None, "MonitorStatus": "",
                "Remark": "", "TTL": record.ttl, "MX": 0, "DefaultNS": False}

    def _value(self, rtype: str, value: str) -> str | None:
        if rtype == "A":
            try:
                return str(ipaddress.IPv4Address(value))
            except ValueError:
                return None
        if rtype == "SRV":
            parts = value.split()
            if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
                return None
            return f"{parts[0]} {parts[1]} {parts[2]} {parts[3].rstrip('.').lower()}"
        return value

    def _write_fields(self, body: dict[str, object]) -> tuple[str, str, str, int] | Reply:
        if body.get("RecordLine") != DEFAULT_LINE:
            return self.error("InvalidParameter.RecordLineInvalid", "记录线路不正确。")
        rtype = str(body.get("RecordType", ""))
        value = self._value(rtype, str(body.get("Value", "")))
        if value is None:
            return self.error("InvalidParameter.RecordValueInvalid", "记录值不正确。")
        ttl = body.get("TTL", 600)
        if not isinstance(ttl, int) or not 1 <= ttl <= 604800:
            return self.error("InvalidParameter.InvalidTTL", "TTL 不正确。")
        return self.store.absolute(str(body.get("SubDomain", "@"))), rtype, value, ttl

    def handle(self, request: Request) -> Reply:
        denied = self._check_signature(request)
        if denied is not None:
            return denied
        if self.forbidden:
            return self.error("AuthFailure.UnauthorizedOperation", "请求未授权。")
        action = request.headers.get("x-tc-action")
        body = request.json()
        if body.get("Domain") != self.store.zone:
            return self.error("InvalidParameterValue.DomainNotExists", "当前域名有误，请返回重新操作。")
        if action == "DescribeRecordList":
            sub, rtype = body.get("Subdomain"), body.get("RecordType")
            matches = [r for r in self.listed(None if sub is None else self.store.absolute(str(sub)), None)
                       if rtype is None or r.type == rtype]
            if not matches:
                return self.error("ResourceNotFound.NoDataOfRecord", "记录列表为空。")
            offset = _int(body, "Offset", 0)
            limit = min(_int(body, "Limit", 100), self.max_page_size)
            chunk = matches[offset: offset + limit]
            return self.ok({"RecordCountInfo": {"SubdomainCount": len(matches), "ListCount": len(chunk),
                                                "TotalCount": len(matches)},
                            "RecordList": [self._json(r) for r in chunk]})
        if action == "DescribeRecord":
            record = self.store.get(_int(body, "RecordId", 0))
            if record is None:
                return self.error("ResourceNotFound.NoDataOfRecord", "记录不存在。")
            return self.ok({"RecordInfo": {"Id": record.id, "SubDomain": self.store.relative(record.name),
                                           "RecordType": record.type, "RecordLine": DEFAULT_LINE,
                                           "Value": self._json(record)["Value"], "TTL": record.ttl}})
        if action == "DeleteRecord":
            if not self.store.delete(_int(body, "RecordId", 0)):
                return self.error("ResourceNotFound.NoDataOfRecord", "记录不存在。")
            return self.ok({})
        if action in ("CreateRecord", "ModifyRecord"):
            fields = self._write_fields(body)
            if isinstance(fields, Reply):
                return fields
            name, rtype, value, ttl = fields
            if action == "CreateRecord":
                if any(r.value == value for r in self.store.find(name, rtype)):
                    return self.error("InvalidParameter.DomainRecordExist", "记录已经存在，无需再次添加。")
                return self.ok({"RecordId": self.store.add(name, rtype, value, ttl).id})
            record = self.store.get(_int(body, "RecordId", 0))
            if record is None:
                return self.error("ResourceNotFound.NoDataOfRecord", "记录不存在。")
            record.name, record.type, record.value, record.ttl = name, rtype, value, ttl
            return self.ok({"RecordId": record.id})
        return self.error("InvalidAction", f"接口 {action} 不存在。")
