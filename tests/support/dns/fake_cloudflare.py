"""A stateful fake of the Cloudflare API v4 subset we use (zones, dns_records).

Checks what Cloudflare checks: the bearer token or the legacy e-mail + global
key, exact ``name``/``type`` filters, paging (``page``/``per_page`` with
``result_info``), TTL range, SRV ``data`` objects, and refuses an identical
duplicate (code 81057), deletes by id.  Errors use Cloudflare's envelope.
"""

from __future__ import annotations

import ipaddress
import math
import re

from tests.support.dns.server import FakeApi, Reply, Request, StoredRecord


def envelope_error(status: int, code: int, message: str) -> Reply:
    return Reply.of(status, {"success": False, "errors": [{"code": code, "message": message}],
                             "messages": [], "result": None})


class FakeCloudflare(FakeApi):
    def __init__(self, zone: str, token: str, email: str | None = None, global_key: str | None = None) -> None:
        super().__init__(zone)
        self.token = token
        self.email = email
        self.global_key = global_key
        self.zone_id = "023e105f4ecef8ad9ca31a8372d0c353"
        self.other_zones = [("aaaa0000000000000000000000000001", "other.example"),
                            ("aaaa0000000000000000000000000002", "another.example")]
        self.forbidden_zone = False  # token valid but without Zone:DNS:Edit

    def rate_limited_reply(self) -> Reply:
        return envelope_error(429, 971, "Please wait and consider throttling your request speed")

    def _auth(self, request: Request) -> Reply | None:
        auth = request.headers.get("authorization")
        if auth is not None:
            if not auth.startswith("Bearer "):
                chain = [{"code": 6111, "message": "Invalid format for Authorization header"}]
                error = {"code": 6003, "message": "Invalid request headers", "error_chain": chain}
                return Reply.of(400, {"success": False, "errors": [error], "messages": [], "result": None})
            if auth[len("Bearer "):] != self.token:
                return envelope_error(403, 9109, "Invalid access token")
            return None
        email, key = request.headers.get("x-auth-email"), request.headers.get("x-auth-key")
        if email is None and key is None:
            return envelope_error(400, 6003, "Invalid request headers")
        if self.email is None or (email, key) != (self.email, self.global_key):
            return envelope_error(403, 9103, "Unknown X-Auth-Key or X-Auth-Email")
        return None

    def _page(self, request: Request, items: list[dict[str, object]]) -> Reply:
        page = int(request.query.get("page", "1"))
        per_page = min(int(request.query.get("per_page", "20")), self.max_page_size)
        chunk = items[(page - 1) * per_page: page * per_page]
        return Reply.of(200, {"success": True, "errors": [], "messages": [], "result": chunk,
                              "result_info": {"page": page, "per_page": per_page, "count": len(chunk),
                                              "total_count": len(items),
                                              "total_pages": max(1, math.ceil(len(items) / per_page))}})

    def _record_json(self, record: StoredRecord) -> dict[str, object]:
        out: dict[str, object] = {"id": f"r{record.id}", "zone_id": self.zone_id, "zone_name": self.store.zone,
                                  "name": record.name, "type": record.type, "ttl": record.ttl,
                                  "proxiable": True, "proxied": False, "locked": False}
        if record.type == "SRV":
            priority, weight, port, target = record.value.split()
            out["content"] = f"{weight} {port} {target}"
            out["priority"] = int(priority)
            out["data"] = {"priority": int(priority), "weight": int(weight), "port": int(port), "target": target}
        else:
            out["content"] = record.value
        return out

    def _parse_body(self, body: dict[str, object]) -> tuple[str, str, str, int] | Reply:
        rtype = body.get("type")
        name = str(body.get("name", "")).lower().rstrip(".")
        ttl = body.get("ttl", 1)
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            return envelope_error(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        if not (name == self.store.zone or name.endswith("." + self.store.zone)):
            return envelope_error(400, 9005, "Content for record is invalid; name must be within the zone")
        if rtype in ("A", "AAAA"):
            if body.get("proxied") is not False:
                return envelope_error(400, 9999, "test fake: records must be sent with proxied: false")
            try:
                ip = ipaddress.ip_address(str(body.get("content")))
            except ValueError:
                return envelope_error(400, 9005, "Content for A record is invalid. Must be a valid IPv4 address")
            if (ip.version == 4) != (rtype == "A"):
                return envelope_error(400, 9005, "Content for record is invalid")
            return name, str(rtype), str(ip), ttl
        if rtype == "SRV":
            data = body.get("data")
            numbers = ("priority", "weight", "port")
            if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in numbers):
                return envelope_error(400, 9101, "SRV data is invalid")
            target = str(data.get("target", "")).rstrip(".")
            if not re.fullmatch(r"[a-z0-9_.-]+", target.lower()):
                return envelope_error(400, 9101, "SRV target is invalid")
            return name, "SRV", f"{data['priority']} {data['weight']} {data['port']} {target.lower()}", ttl
        return envelope_error(400, 9000, "DNS name is invalid or record type unsupported by this fake")

    def handle(self, request: Request) -> Reply:
        denied = self._auth(request)
        if denied is not None:
            return denied
        path = request.path.rstrip("/")
        if path.endswith("/zones") and request.method == "GET":
            zones = [(self.zone_id, self.store.zone), *self.other_zones]
            wanted = request.query.get("name")
            items: list[dict[str, object]] = [{"id": zid, "name": name, "status": "active"} for zid, name in zones
                                              if wanted is None or name == wanted]
            return self._page(request, items)
        match = re.search(r"/zones/([^/]+)/dns_records(?:/([^/]+))?$", path)
        if not match:
            return envelope_error(404, 7003, "Could not route to " + request.path)
        if match.group(1) != self.zone_id:
            return envelope_error(404, 7003, "Could not route to /zones/" + match.group(1))
        if self.forbidden_zone:
            return envelope_error(403, 10000, "Authentication error")
        record_id = match.group(2)
        if record_id is None and request.method == "GET":
            name, rtype = request.query.get("name"), request.query.get("type")
            return self._page(request, [self._record_json(r) for r in self.listed(name, rtype)])
        if record_id is None and request.method == "POST":
            parsed = self._parse_body(request.json())
            if isinstance(parsed, Reply):
                return parsed
            name, rtype, value, ttl = parsed
            if any(r.value == value for r in self.store.find(name, rtype)):
                return envelope_error(400, 81057, "Record already exists.")
            created = self.store.add(name, rtype, value, ttl)
            return Reply.of(200, {"success": True, "errors": [], "messages": [], "result": self._record_json(created)})
        record = self.store.get(int(record_id[1:])) if record_id and record_id[1:].isdigit() else None
        if record is None:
            return envelope_error(404, 81044, "Record does not exist.")
        if request.method == "DELETE":
            self.store.delete(record.id)
            return Reply.of(200, {"success": True, "errors": [], "messages": [], "result": {"id": record_id}})
        if request.method in ("PUT", "PATCH"):
            body = request.json()
            if request.method == "PATCH":
                body = {**self._record_json(record), **body}
            parsed = self._parse_body(body)
            if isinstance(parsed, Reply):
                return parsed
            record.name, record.type, record.value, record.ttl = parsed
            return Reply.of(200, {"success": True, "errors": [], "messages": [], "result": self._record_json(record)})
        return envelope_error(405, 10000, "Method not allowed")
