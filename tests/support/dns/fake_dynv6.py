"""A stateful fake of the dynv6 REST API v2 (zones by name, records list/create/update/delete).

Validation failures are 422 with dynv6's body ``{"error": {"name", "message", "fields"}}``.
"""

from __future__ import annotations

import ipaddress
import re

from tests.support.dns.server import FakeApi, Reply, Request, StoredRecord


def invalid(field: str, problem: str) -> Reply:
    return Reply.of(422, {"error": {"name": "ValidationError", "message": "Validation failed",
                                    "fields": {field: [problem]}}})


class FakeDynv6(FakeApi):
    def __init__(self, zone: str, token: str) -> None:
        super().__init__(zone)
        self.token = token
        self.zone_id = 42

    def rate_limited_reply(self) -> Reply:
        return Reply.of(429, {"error": "Too Many Requests"})

    def _json(self, record: StoredRecord) -> dict[str, object]:
        out: dict[str, object] = {"id": record.id, "zoneID": self.zone_id, "type": record.type,
                                  "name": "" if record.name == self.store.zone else self.store.relative(record.name),
                                  "priority": None, "weight": None, "port": None, "flags": None, "tag": None}
        if record.type == "SRV":
            priority, weight, port, target = record.value.split()
            out.update(priority=int(priority), weight=int(weight), port=int(port), data=target + ".")
        else:
            out["data"] = record.value
        return out

    def _parse(self, body: dict[str, object]) -> tuple[str, str, str] | Reply:
        rtype, rel, data = body.get("type"), str(body.get("name", "")), str(body.get("data", ""))
        name = self.store.absolute(rel)
        if rtype in ("A", "AAAA"):
            try:
                ip = ipaddress.ip_address(data)
            except ValueError:
                return invalid("data", "is invalid")
            return name, str(rtype), str(ip)
        if rtype == "SRV":
            fields = [body.get(k) for k in ("priority", "weight", "port")]
            if not all(isinstance(f, int) for f in fields):
                return invalid("port", "can't be blank")
            target = data[:-1] if data.endswith(".") else self.store.absolute(data)
            return name, "SRV", f"{fields[0]} {fields[1]} {fields[2]} {target.lower()}"
        return invalid("type", "is not included in the list")

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply.of(401, {"error": "Unauthorized"})
        path = request.path.rstrip("/")
        match = re.search(r"/zones/by-name/([^/]+)$", path)
        if match and request.method == "GET":
            if match.group(1) != self.store.zone:
                return Reply.of(404, {"error": "Not Found"})
            return Reply.of(200, {"id": self.zone_id, "name": self.store.zone, "ipv4address": "", "ipv6prefix": ""})
        match = re.search(r"/zones/(\d+)/records(?:/(\d+))?$", path)
        if not match or int(match.group(1)) != self.zone_id:
            return Reply.of(404, {"error": "Not Found"})
        if match.group(2) is None:
            if request.method == "GET":
                return Reply.of(200, [self._json(r) for r in self.store.records])
            if request.method == "POST":
                parsed = self._parse(request.json())
                if isinstance(parsed, Reply):
                    return parsed
                return Reply.of(200, self._json(self.store.add(*parsed, ttl=0)))
        record = self.store.get(int(match.group(2) or 0))
        if record is None:
            return Reply.of(404, {"error": "Not Found"})
        if request.method == "PATCH":
            current = self._json(record)
            parsed = self._parse({**current, **request.json()})
            if isinstance(parsed, Reply):
                return parsed
            record.name, record.type, record.value = parsed
            return Reply.of(200, self._json(record))
        if request.method == "DELETE":
            self.store.delete(record.id)
            return Reply(204, b"")
        return Reply.of(405, {"error": "Method Not Allowed"})
