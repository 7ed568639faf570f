"""Messages of the mc area: key -> (zh, en). Keys start with "mc."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # Printed after "MCJE: " / "MCBE: " when no address of the server answered (SPEC section 7).
    "mc.offline": ("服务器离线", "server offline"),
    "mc.bad_target": (
        "无法识别的查询地址：{target}（应为 主机、主机:端口、[IPv6]:端口 或 IPv6 地址）",
        "cannot read the query address {target} (expected host, host:port, [IPv6]:port or an IPv6 address)",
    ),
    "mc.timeout": ("{addr} 在 {timeout} 秒内没有应答", "{addr} did not answer within {timeout} s"),
    "mc.unreachable": ("无法连接 {addr}：{reason}", "cannot reach {addr}: {reason}"),
    "mc.bad_reply": ("{addr} 的应答无法识别：{reason}", "{addr} sent a reply we cannot read: {reason}"),
}
