#!/usr/bin/env python3
"""on_change recipe: set qBittorrent's listening port to the new public port (Web API v2).

    "on_change": "python3 /opt/nat1/contrib/on_change/qbittorrent.py"

nat1_traversal appends ``tcp|udp inner_ip inner_port outer_ip outer_port [name]``.
Settings come from the environment (so that no password is in config.json or in a
log line): QBT_URL (default http://127.0.0.1:8080), QBT_USER, QBT_PASSWORD.
Only TCP mappings are acted on. Standard library only; exit 0 on success, 1 on failure.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import sys
import urllib.parse
import urllib.request

TIMEOUT = 10


def set_listen_port(base: str, user: str, password: str, port: int) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # qBittorrent refuses Web API calls whose Referer/Origin is not its own address (CSRF protection).
    headers = {"Referer": base, "Origin": base}

    def post(path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(base + path, data=data, headers=headers, method="POST")
        with opener.open(request, timeout=TIMEOUT) as reply:
            return str(reply.read().decode("utf-8", "replace"))

    if user or password:
        answer = post("/api/v2/auth/login", {"username": user, "password": password})
        if answer.strip() != "Ok.":
            raise RuntimeError("qBittorrent refused the user name or password")
    post("/api/v2/app/setPreferences", {"json": json.dumps({"listen_port": port, "random_port": False,
                                                             "upnp": False})})


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print("usage: qbittorrent.py tcp|udp inner_ip inner_port outer_ip outer_port [name]", file=sys.stderr)
        return 2
    proto, outer_port = argv[0], int(argv[4])
    if proto != "tcp":
        return 0
    base = os.environ.get("QBT_URL", "http://127.0.0.1:8080").rstrip("/")
    try:
        set_listen_port(base, os.environ.get("QBT_USER", ""), os.environ.get("QBT_PASSWORD", ""), outer_port)
    except (OSError, RuntimeError) as exc:
        print(f"qBittorrent: {exc}", file=sys.stderr)
        return 1
    print(f"qBittorrent 监听端口已设为 {outer_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
