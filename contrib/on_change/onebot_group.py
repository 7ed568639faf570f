#!/usr/bin/env python3
"""on_change recipe: post the new address to a QQ group through a OneBot v11 HTTP API
(NapCat, LLOneBot, Lagrange.OneBot, go-cqhttp: ``POST /send_group_msg``).

    "on_change": "python3 /opt/nat1/contrib/on_change/onebot_group.py"

nat1_traversal appends ``tcp|udp inner_ip inner_port outer_ip outer_port [name]``.
Environment: ONEBOT_URL (default http://127.0.0.1:3000), ONEBOT_GROUP (the group
number), ONEBOT_TOKEN (the access token, sent as ``Authorization: Bearer``), and
ONEBOT_TEXT, a template with {ip} {port} {address} {name} (default: a Chinese line
for Bedrock players, who cannot use SRV records). Exit 0 on success, 1 on failure.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

TIMEOUT = 10
DEFAULT_TEXT = "基岩版服务器 {name} 新地址：{ip}  端口：{port}"


def send_group_message(base: str, group: int, text: str, token: str) -> None:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"group_id": group, "message": text, "auto_escape": True}).encode()
    request = urllib.request.Request(base.rstrip("/") + "/send_group_msg", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
        answer = json.loads(reply.read())
    if answer.get("status") != "ok" or answer.get("retcode") not in (0, None):
        raise RuntimeError(f"OneBot: {answer.get('retcode')} {answer.get('message') or answer.get('wording') or ''}")


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print("usage: onebot_group.py tcp|udp inner_ip inner_port outer_ip outer_port [name]", file=sys.stderr)
        return 2
    ip, port = argv[3], argv[4]
    name = argv[5] if len(argv) > 5 else ""
    address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    group = os.environ.get("ONEBOT_GROUP", "")
    if not group.isdigit():
        print("OneBot: set ONEBOT_GROUP to the group number", file=sys.stderr)
        return 2
    text = os.environ.get("ONEBOT_TEXT", DEFAULT_TEXT).format(ip=ip, port=port, address=address, name=name)
    try:
        send_group_message(os.environ.get("ONEBOT_URL", "http://127.0.0.1:3000"), int(group), text,
                           os.environ.get("ONEBOT_TOKEN", ""))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"OneBot: {exc}", file=sys.stderr)
        return 1
    print(f"已发送到 QQ 群 {group}：{address}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
