"""Messages of the keeper area: key -> (zh, en). Keys start with "keeper."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # SPEC section 5: users of no_dns copy the address from this exact line.
    "keeper.mapping": ("获取到映射地址： {addr}", "Mapped address: {addr}"),
    "keeper.public_ip": (
        "映射地址 {addr} 就是本机地址：本机直接拥有公网 IP，没有经过 NAT。照常保活并发布。",
        "The mapped address {addr} is this host's own address: it has a public IP and no NAT."
        " Keeping it alive and publishing it as usual.",
    ),
    "keeper.retrying": (
        "暂时无法获取或保持映射（{error}），{delay:.1f} 秒后重试，之后会自动退避重试",
        "Cannot get or keep the mapping right now ({error}); retrying in {delay:.1f} s, then with growing pauses",
    ),
    "keeper.recovered": ("网络已恢复，映射保持正常", "The network is back; the mapping is held again"),
    "keeper.recheck": ("{reason}，正在重新获取映射", "{reason}; getting the mapping again"),
    "keeper.reason.keepalive_closed": ("保活连接已断开", "The keepalive connection closed"),
    "keeper.reason.keepalive_lost": ("保活请求没有得到回应", "The keepalive request got no reply"),
    "keeper.reason.changed": ("STUN 服务器报告了新的映射地址", "A STUN server reports a new mapped address"),
    "keeper.reason.stun_silent": ("所有 STUN 服务器都没有回应", "No STUN server answers"),
    "keeper.keepalive_failed": ("保活失败：{reason}", "Keepalive failed: {reason}"),
    "keeper.keepalive_timeout": (
        "保活服务器 {server} 在 {timeout} 秒内没有回应",
        "Keepalive server {server} did not answer within {timeout} s",
    ),
    "keeper.keepalive_broken": (
        "与保活服务器 {server} 的连接中断：{error}",
        "The connection to keepalive server {server} broke: {error}",
    ),
    "keeper.no_keepalive": (
        "{count} 个保活服务器都无法使用（最后的错误：{error}），请检查网络或 keepalive_tcp 配置",
        "None of the {count} keepalive servers works (last error: {error}); check the network or keepalive_tcp",
    ),
    "keeper.no_stun_answer": (
        "{count} 个 STUN 服务器都没有回应，请检查网络或 stun_tcp / stun_udp 配置",
        "None of the {count} STUN servers answered; check the network or stun_tcp / stun_udp",
    ),
    "keeper.unstable": (
        "映射地址不稳定：两次查询分别得到 {first} 和 {second}",
        "The mapping is unstable: two queries gave {first} and {second}",
    ),
    "keeper.symmetric": (
        "当前网络是对称型 NAT（NAT4）：同一端口访问不同服务器时得到了不同的映射地址（{first} 与 {second}），"
        "外部玩家无法通过任何一个映射地址连进来，所以不会发布映射。"
        "解决办法：在光猫或路由器上开启 DMZ 或全锥形 NAT（NAT1），或设置端口转发；"
        "也可以让光猫改为桥接、由自己的路由器拨号。可以用 -t 参数复查 NAT 类型。",
        "This network has a symmetric NAT (NAT4): one port got different mapped addresses from"
        " different servers ({first} and {second}), so players could not connect through any of"
        " them and nothing is published. Fix: enable DMZ or full-cone NAT (NAT1) on the modem or"
        " router, or forward the port; or bridge the modem and dial from your own router."
        " Check again with -t.",
    ),
    "keeper.bad_answer": (
        "已忽略 STUN 服务器 {server} 的回答：它报告的映射地址 {addr} {reason}",
        "Ignored the answer of STUN server {server}: the mapped address {addr} it reports {reason}",
    ),
    "keeper.bad.port_zero": ("端口为 0，不可能是映射", "has port 0, which no mapping can have"),
    "keeper.bad.v4_mapped": (
        "是 IPv4 映射的 IPv6 地址，公网上不会出现",
        "is an IPv4-mapped IPv6 address, which never appears on the Internet",
    ),
    "keeper.bad.unspecified": ("是未指定地址，不可能是映射", "is the unspecified address, which no mapping can be"),
    "keeper.bad.not_unicast": (
        "是组播、广播或保留地址，不可能是数据包的来源",
        "is a multicast, broadcast or reserved address, which cannot send packets",
    ),
    "keeper.bad.loopback": ("是回环地址，不可能是公网映射", "is a loopback address, which no public mapping can be"),
    "keeper.bad.link_local": ("是链路本地地址，不可能是公网映射", "is link-local, which no public mapping can be"),
    "keeper.bad.private": (
        "是私有网络或运营商级 NAT（CGNAT）地址：你的路由器外面还有一层 NAT（双重 NAT），"
        "外网玩家无法连到这个地址，所以不会发布它。请在上一级光猫/路由器上开启桥接、DMZ 或端口转发，"
        "或向运营商申请公网 IP",
        "is a private or carrier-grade NAT (CGNAT) address: there is another NAT outside your router"
        " (double NAT), players cannot reach it, so it is not published. Bridge the upstream modem,"
        " enable DMZ or a port forward there, or ask the ISP for a public IP",
    ),
    "keeper.bad.outlier": (
        "与其他服务器一致的结果（{agreed}）不同，这台服务器之后最后才会被询问",
        "differs from what the other servers agree on ({agreed}); this server is asked last from now on",
    ),
    "keeper.disagree": (
        "两台 STUN 服务器报告的公网 IP 不同（{first} 与 {second}），也没有第三台可问，暂不发布；"
        "可能有代理改写了 STUN 流量，或在 stun_tcp / stun_udp 中多配置几台服务器",
        "Two STUN servers report different public IPs ({first} and {second}) and no third one answers;"
        " nothing is published yet. A proxy may be rewriting STUN traffic; or configure more servers"
        " in stun_tcp / stun_udp",
    ),
    "keeper.mapping_unstable": (
        "映射地址每次复查都会变化（连续 {count} 次）：这个 NAT 对每个连接或每个目标分配新的映射"
        "（对称型 NAT，NAT4），发布出去的地址玩家连不上，所以不再发布。"
        "解决办法：在光猫或路由器上开启 DMZ 或全锥形 NAT（NAT1），或设置端口转发。",
        "The mapped address changed at every re-check ({count} in a row): this NAT gives each"
        " connection or destination a new mapping (symmetric NAT, NAT4), so a published address"
        " would not reach the server; nothing more is published. Fix: enable DMZ or full-cone NAT"
        " (NAT1) on the modem or router, or forward the port.",
    ),
    "keeper.filtering_unknown": (
        "无法确认 NAT 的过滤行为（{reason}），不能保证陌生玩家连得进来。"
        "可以用 -t 参数检查 NAT 类型，或在 stun_udp 中加入支持 RFC 5780 的 STUN 服务器。",
        "The NAT's filtering behaviour could not be checked ({reason}), so players may be unable"
        " to connect. Check the NAT type with -t, or add an RFC 5780 STUN server to stun_udp.",
    ),
    "keeper.kind_restricted": ("受限锥形", "restricted cone"),
    "keeper.kind_port_restricted": ("端口受限锥形", "port restricted cone"),
    "keeper.restricted": (
        "当前 NAT 是{kind} NAT（NAT{nat}）：路由器只放行本机主动联系过的地址发来的数据，"
        "陌生玩家发到映射地址的连接会被丢弃，所以不会发布映射。"
        "解决办法：在光猫或路由器上开启 DMZ 或全锥形 NAT（NAT1），或设置端口转发。可以用 -t 参数复查 NAT 类型。",
        "This NAT is a {kind} NAT (NAT{nat}): the router only lets in traffic from addresses this"
        " host contacted first, so players' connections to the mapped address would be dropped and"
        " nothing is published. Fix: enable DMZ or full-cone NAT (NAT1) on the modem or router,"
        " or forward the port. Check again with -t.",
    ),
    "keeper.restricted_forward_held": (
        "路由器上本服务端口的转发已由 {method} 打开，陌生玩家可以连入映射地址。"
        "NAT 检测是在另一个端口上进行的，看不到这个转发（那里测得{kind} NAT，NAT{nat}），不影响本服务。",
        "The router forward for this service's port is open ({method}), so players can reach the mapped"
        " address. The NAT test ran on another port and cannot see that forward (it found a {kind} NAT,"
        " NAT{nat}, there); this service is not affected.",
    ),
    "keeper.restricted_other_port": (
        "注意：NAT 检测结果为{kind} NAT（NAT{nat}）。路由器只放行本机主动联系过的地址，"
        "除非你已在光猫/路由器上为本服务端口设置了端口转发或 DMZ，否则陌生玩家连不上映射地址。"
        "（检测是在另一个端口上进行的，看不到单独为本端口设置的转发，所以程序继续运行。）"
        "若玩家无法连接：开启 DMZ 或全锥形 NAT（NAT1），或为本端口设置端口转发，再用 -t -l :端口 复查。",
        "Note: the NAT test found a {kind} NAT (NAT{nat}). The router only lets in addresses this host"
        " contacted first, so unless this service's port is forwarded (or DMZ is set) on the modem or"
        " router, players cannot reach the mapped address. (The test ran on another port and cannot see"
        " a forward set for this port alone, so nat1_traversal carries on.) If players cannot connect:"
        " enable DMZ or full-cone NAT (NAT1), or forward this port, then check with -t -l :PORT.",
    ),
    "keeper.waiting_local": (
        "等待本地服务 {addr} 启动（共享端口模式下需先启动服务端）…",
        "Waiting for the local service at {addr} (in shared-port mode the server starts first)…",
    ),
    "keeper.local_up": ("本地服务 {addr} 已就绪", "The local service at {addr} is up"),
    "keeper.local_down": (
        "本地服务 {addr} 没有响应，映射继续保持",
        "The local service at {addr} does not answer; the mapping is still held",
    ),
    "keeper.motd": ("服务器信息：{motd}", "Server info: {motd}"),
    "keeper.shared_unsupported_os": (
        "共享端口模式（未设置 remote）需要 Linux 的 SO_REUSEPORT，本系统不支持。"
        "请用 -r 或配置 remote 指定服务端地址，改用转发模式。",
        "Shared-port mode (no remote) needs Linux SO_REUSEPORT, which this system lacks."
        " Set -r or remote to the server's address to use forward mode.",
    ),
    "keeper.mcbe_shared_pong": (
        "共享端口模式下，基岩版服务器回复的服务器信息（pong）宣告的是它自己的端口 {port}，"
        "不是公网映射的端口；会改连宣告端口的客户端（例如 bedrock-protocol 写的工具）将连不上。"
        "遇到这种情况请改用转发模式（-r），由程序改写宣告的端口。",
        "In shared-port mode the Bedrock server's pong advertises its own port {port}, not the mapped"
        " public port; clients that follow the advertised port (bedrock-protocol tools, for example)"
        " will fail to connect. Use forward mode (-r) if that happens: it rewrites the advertised port.",
    ),
    "keeper.shared_udp": (
        "type 为 udp 时不支持共享端口模式：请用 -r 或配置 remote 指定服务端地址，改用转发模式。",
        "type udp cannot use shared-port mode: set -r or remote to the server's address to use forward mode.",
    ),
    "keeper.no_local": ("没有设置本地地址（-l 或配置 local）", "No local address (-l or config local)"),
    "keeper.shared_bind_failed": (
        "无法与服务端共享端口 {local}：{error}。共享端口模式下，服务端必须以 "
        "LD_PRELOAD=hook_bind.so 启动，并且与 nat1_traversal 使用同一个系统用户运行；"
        "否则请用 -r 指定服务端地址，改用转发模式。",
        "Cannot share port {local} with the server: {error}. In shared-port mode the server must be"
        " started with LD_PRELOAD=hook_bind.so and run as the same system user as nat1_traversal;"
        " otherwise use forward mode with -r.",
    ),
    "keeper.stopping": ("收到退出信号，正在退出…", "Signal received, stopping…"),
    "keeper.forced_exit": ("再次收到退出信号，立即退出", "Second signal: exiting now"),
    "keeper.stopped_unexpectedly": ("映射保持任务意外结束", "The mapping keeper stopped unexpectedly"),
}
