"""Fakes of the Web APIs the on_change recipes talk to (contrib/on_change/), on 127.0.0.1.

Each checks what the real program checks: qBittorrent's login cookie and its
Referer/Origin CSRF rule, Transmission's 409 + X-Transmission-Session-Id handshake and
Basic auth, OneBot's access token.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.support.receivers import Reply, Request

TEXT = {"Content-Type": "text/plain; charset=UTF-8"}


@dataclass
class QbittorrentFake:
    base: str = ""  # http://127.0.0.1:PORT, set once the receiver runs
    user: str = "admin"
    password: str = "qb-pass-7e2d"
    preferences: dict[str, object] = field(default_factory=lambda: {"listen_port": 6881, "random_port": True})
    sid: str = field(default_factory=lambda: secrets.token_hex(16))

    def respond(self, request: Request, number: int) -> Reply:
        referer = request.headers.get("referer") or request.headers.get("origin") or ""
        if referer and not referer.startswith(self.base):
            return Reply(401, b"Unauthorized", TEXT)
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.path == "/api/v2/auth/login" and request.method == "POST":
            if (form.get("username"), form.get("password")) != (self.user, self.password):
                return Reply(200, b"Fails.", TEXT)
            return Reply(200, b"Ok.", {**TEXT, "Set-Cookie": f"SID={self.sid}; HttpOnly; path=/; SameSite=Strict"})
        if f"SID={self.sid}" not in request.headers.get("cookie", ""):
            return Reply(403, b"Forbidden", TEXT)
        if request.path == "/api/v2/app/setPreferences" and request.method == "POST":
            changes = json.loads(form["json"])
            self.preferences.update(changes)
            return Reply(200, b"", TEXT)
        return Reply(404, b"Not Found", TEXT)


@dataclass
class TransmissionFake:
    user: str = "tr"
    password: str = "tr-pass-4b1c"
    session_id: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    settings: dict[str, object] = field(default_factory=lambda: {"peer-port": 51413})

    def respond(self, request: Request, number: int) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(401, b"<h1>401: Unauthorized</h1>", {"Content-Type": "text/html"})
        if request.headers.get("x-transmission-session-id") != self.session_id:
            return Reply(409, b"<h1>409: Conflict</h1>", {"Content-Type": "text/html",
                                                           "X-Transmission-Session-Id": self.session_id})
        call = json.loads(request.body)
        if call.get("method") != "session-set":
            return Reply(200, json.dumps({"result": "method name not recognized"}).encode())
        self.settings.update(call.get("arguments", {}))
        return Reply(200, json.dumps({"result": "success", "arguments": {}}).encode())


@dataclass
class OneBotFake:
    token: str = "onebot-token-93af"
    messages: list[tuple[int, str]] = field(default_factory=list)

    def respond(self, request: Request, number: int) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, b"", TEXT)
        if request.path != "/send_group_msg":
            return Reply(404, json.dumps({"status": "failed", "retcode": 1404}).encode())
        call = json.loads(request.body)
        self.messages.append((int(call["group_id"]), str(call["message"])))
        return Reply(200, json.dumps({"status": "ok", "retcode": 0, "data": {"message_id": 1}}).encode())
