#!/usr/bin/env python3
"""on_change recipe: set Transmission's peer port to the new public port (RPC ``session-set``).

    "on_change": "python3 /opt/nat1/contrib/on_change/transmission.py"

nat1_traversal appends ``tcp|udp inner_ip inner_port outer_ip outer_port [name]``.
Environment: TR_URL (default http://127.0.0.1:9091/transmission/rpc), TR_USER,
TR_PASSWORD. Transmission answers the first call with 409 and an
X-Transmission-Session-Id header, which is then sent back (its CSRF protection).
Only TCP mappings are acted on. Standard library only; exit 0 on success, 1 on failure.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT = 10
SESSION_HEADER = "X-Transmission-Session-Id"


def set_peer_port(url: str, user: str, password: str, port: int) -> None:
    body = json.dumps({"method": "session-set", "arguments": {"peer-port": port, "peer-port-random-on-start": False,
                                                              "port-forwarding-enabled": False}}).encode()
    headers = {"Content-Type": "application/json"}
    if user or password:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    for _ in range(2):  # the second try carries the session id the first reply named
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
                answer = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 409 and exc.headers.get(SESSION_HEADER):
                headers[SESSION_HEADER] = exc.headers[SESSION_HEADER]
                continue
            if exc.code == 401:
                raise RuntimeError("Transmission refused the user name or password") from None
            raise
        if answer.get("result") != "success":
            raise RuntimeError(f"Transmission: {answer.get('result')}")
        return
    raise RuntimeError("Transmission did not accept the session id")


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print("usage: transmission.py tcp|udp inner_ip inner_port outer_ip outer_port [name]", file=sys.stderr)
        return 2
    proto, outer_port = argv[0], int(argv[4])
    if proto != "tcp":
        return 0
    url = os.environ.get("TR_URL", "http://127.0.0.1:9091/transmission/rpc")
    try:
        set_peer_port(url, os.environ.get("TR_USER", ""), os.environ.get("TR_PASSWORD", ""), outer_port)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"Transmission: {exc}", file=sys.stderr)
        return 1
    print(f"Transmission 端口已设为 {outer_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
