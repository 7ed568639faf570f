"""Messages of the forward area: key -> (zh, en). Keys start with "forward."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "forward.bind_failed": (
        "无法监听本地地址 {local}（{kind}）：{error}。端口可能已被其他程序占用，或需要更高权限",
        "Cannot listen on local address {local} ({kind}): {error}. The port may be in use "
        "by another program, or need more privileges",
    ),
    "forward.tcp_listening": (
        "TCP 转发已启动：{local} → {remote}",
        "TCP forwarding started: {local} → {remote}",
    ),
    "forward.udp_listening": (
        "UDP 转发已启动：{local} → {remote}",
        "UDP forwarding started: {local} → {remote}",
    ),
    "forward.tcp_open": (
        "新客户端 {client} 已连接，经本地端口 {via} 转发到 {remote}",
        "New client {client} connected, forwarded to {remote} from local port {via}",
    ),
    "forward.tcp_close": (
        "客户端 {client} 已断开：上行 {up} 字节，下行 {down} 字节，持续 {duration:.1f} 秒",
        "Client {client} disconnected: {up} bytes up, {down} bytes down, lasted {duration:.1f} s",
    ),
    "forward.tcp_idle": (
        "客户端 {client} 空闲超过 {timeout:g} 秒，断开连接",
        "Client {client} idle for more than {timeout:g} s, closing the connection",
    ),
    "forward.connect_failed": (
        "客户端 {client} 的连接无法转发：连接 {remote} 失败：{error}",
        "Cannot forward client {client}: connecting to {remote} failed: {error}",
    ),
    "forward.connect_timeout": (
        "客户端 {client} 的连接无法转发：连接 {remote} 超时（{timeout:g} 秒）",
        "Cannot forward client {client}: connecting to {remote} timed out ({timeout:g} s)",
    ),
    "forward.tcp_cap": (
        "并发连接数已达上限 {limit}，拒绝新客户端 {client}（最近 {window:g} 秒内共拒绝 {count} 个）",
        "Concurrent connection limit {limit} reached, refusing new client {client} "
        "({count} refused in the last {window:g} s)",
    ),
    "forward.udp_open": (
        "新 UDP 会话 {client}，经本地端口 {via} 转发到 {remote}",
        "New UDP session {client}, forwarded to {remote} from local port {via}",
    ),
    "forward.udp_close": (
        "UDP 会话 {client} 已结束：上行 {up_packets} 包 {up} 字节，下行 {down_packets} 包 {down} 字节，"
        "持续 {duration:.1f} 秒",
        "UDP session {client} ended: {up_packets} packets {up} bytes up, {down_packets} packets "
        "{down} bytes down, lasted {duration:.1f} s",
    ),
    "forward.udp_cap": (
        "UDP 会话数已达上限 {limit}，丢弃来自新客户端 {client} 的数据包（最近 {window:g} 秒内共丢弃 {count} 个）",
        "UDP session limit {limit} reached, dropping packets from new client {client} "
        "({count} dropped in the last {window:g} s)",
    ),
    "forward.udp_session_failed": (
        "无法为 UDP 客户端 {client} 建立到 {remote} 的会话：{error}",
        "Cannot open a UDP session to {remote} for client {client}: {error}",
    ),
}
