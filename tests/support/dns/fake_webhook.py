"""A local webhook receiver: keeps every POST byte for byte, answers 200 (or what it is told)."""

from __future__ import annotations

from tests.support.dns.server import FakeApi, Reply, Request


class WebhookReceiver(FakeApi):
    def __init__(self, zone: str, token: str | None) -> None:
        super().__init__(zone)
        self.token = token
        self.bodies: list[bytes] = []

    def rate_limited_reply(self) -> Reply:
        return Reply(429, b"slow down", "text/plain")

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405, b"", "text/plain")
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, b"unauthorized", "text/plain")
        self.bodies.append(request.body)
        return Reply(200, b'{"ok": true}')
