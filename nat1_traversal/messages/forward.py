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
        "并发连接数已达上限 {limit}，拒绝新客户端 {client}（自上次提示以来共拒绝 {count} 个）",
        "Concurrent connection limit {limit} reached, refusing new client {client} "
        "({count} refused since the last notice)",
    ),
    "forward.tcp_source_cap": (
        "来源地址 {source} 的并发连接数已达上限 {limit}，拒绝它的新连接 {client}（自上次提示以来共拒绝 {count} 个）。"
        "可用 max_connections_per_source 调整",
        "Source address {source} reached its limit of {limit} concurrent connections, refusing its new "
        "connection {client} ({count} refused since the last notice). Adjust with max_connections_per_source",
    ),
    "forward.port_taken": (
        "无法监听本地地址 {local}（TCP）：已有其他程序在监听这个端口（可能是另一个 nat1_traversal 实例）。"
        "两个监听者会各分走一部分玩家，请先停止另一个程序，或换一个端口",
        "Cannot listen on local address {local} (TCP): another program already listens on this port (perhaps "
        "another nat1_traversal instance). Two listeners would each take part of the players: stop the other "
        "program first, or use another port",
    ),
    "forward.accept_paused": (
        "文件描述符已用尽（{error}），暂停接受新连接 {delay:g} 秒或直到有连接关闭；当前转发 {connections} 个连接",
        "Out of file descriptors ({error}): not accepting new connections for {delay:g} s or until one "
        "closes; {connections} connections being forwarded",
    ),
    "forward.fd_raised": (
        "已将可打开文件数上限（RLIMIT_NOFILE）从 {old} 提高到 {new}，以容纳转发的连接",
        "Raised the open file limit (RLIMIT_NOFILE) from {old} to {new} to fit the forwarded connections",
    ),
    "forward.fd_caps_lowered": (
        "可打开文件数上限只有 {soft}（硬上限 {hard}），不够 {wanted} 个 {what}：上限降为 {cap}。"
        "可用 ulimit -n 或 systemd 的 LimitNOFILE= 提高",
        "The open file limit is only {soft} (hard limit {hard}), not enough for {wanted} {what}: the limit is "
        "lowered to {cap}. Raise it with ulimit -n or systemd's LimitNOFILE=",
    ),
    "forward.what_tcp": ("TCP 连接", "TCP connections"),
    "forward.what_udp": ("UDP 会话", "UDP sessions"),
    "forward.omitted": (
        "（此前同类消息已省略 {count} 条）",
        " ({count} similar messages omitted)",
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
        "UDP 会话数已达上限 {limit}，丢弃来自新客户端 {client} 的数据包（自上次提示以来共丢弃 {count} 个）",
        "UDP session limit {limit} reached, dropping packets from new client {client} "
        "({count} dropped since the last notice)",
    ),
    "forward.udp_source_cap": (
        "来源地址 {source} 的 UDP 会话数已达上限 {limit}，丢弃来自它的新客户端 {client} 的数据包"
        "（自上次提示以来共丢弃 {count} 个）。可用 max_connections_per_source 调整",
        "Source address {source} reached its limit of {limit} UDP sessions, dropping packets from its new "
        "client {client} ({count} dropped since the last notice). Adjust with max_connections_per_source",
    ),
    "forward.stun_unclaimed": (
        "丢弃来自 {client} 的 STUN 响应：它不对应任何进行中的请求，不当作玩家数据转发",
        "Dropped a STUN response from {client}: it answers no pending request and is not player traffic",
    ),
    "forward.udp_session_failed": (
        "无法为 UDP 客户端 {client} 建立到 {remote} 的会话：{error}",
        "Cannot open a UDP session to {remote} for client {client}: {error}",
    ),
}
