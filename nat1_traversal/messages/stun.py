"""Messages of the stun area: key -> (zh, en). Keys start with "stun."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # net.py
    "stun.bind_failed": ("无法绑定 {kind} 地址 {local}：{error}", "cannot bind {kind} address {local}: {error}"),
    "stun.resolve_failed": ("无法解析 {host}：{error}", "cannot resolve {host}: {error}"),
    "stun.connect_timeout": ("连接 {remote} 超时（{timeout} 秒）", "connecting to {remote} timed out ({timeout} s)"),
    "stun.connect_failed": ("无法连接 {remote}：{error}", "cannot connect to {remote}: {error}"),
    "stun.connection_closed": (
        "对方关闭了连接（收到 {got}/{wanted} 字节）",
        "the peer closed the connection ({got}/{wanted} bytes received)",
    ),
    # STUN transactions
    "stun.bad_message": (
        "STUN 服务器返回了无法识别的数据：{detail}",
        "the STUN server sent a malformed message: {detail}",
    ),
    "stun.bad_attribute": ("STUN 属性格式错误：{detail}", "malformed STUN attribute: {detail}"),
    "stun.error_response": ("STUN 服务器返回错误 {code}：{reason}", "the STUN server answered error {code}: {reason}"),
    "stun.timeout": (
        "STUN 服务器 {server} 在 {timeout} 秒内没有响应",
        "STUN server {server} did not answer within {timeout} s",
    ),
    "stun.unreachable": ("STUN 服务器不可达：{error}", "STUN server unreachable: {error}"),
    "stun.same_server": (
        "{server} 与上一个服务器地址相同，已跳过",
        "{server} has the same address as the previous server; skipped",
    ),
    "stun.no_server": (
        "{count} 个 STUN 服务器都没有响应",
        "none of the {count} STUN servers answered",
    ),
    # NAT type test (-t)
    "stun.nat.no_server": (
        "无法连接任何 STUN 服务器，NAT 类型测试未能进行",
        "no STUN server could be reached; the NAT type test could not run",
    ),
    "stun.nat.mapped_line": ("{proto} 映射地址：{mapped}", "{proto} mapped address: {mapped}"),
    "stun.nat.mapping_line": ("{proto} 映射行为：{behavior}", "{proto} mapping behaviour: {behavior}"),
    "stun.nat.filtering_line": ("{proto} 过滤行为：{behavior}", "{proto} filtering behaviour: {behavior}"),
    "stun.nat.port_preservation_line": ("{proto} 端口保持：{value}", "{proto} port preservation: {value}"),
    "stun.nat.yes": ("是", "yes"),
    "stun.nat.no": ("否", "no"),
    "stun.nat.unknown_because": ("未知（{reason}）", "unknown ({reason})"),
    "stun.nat.mapping.eim": (
        "与端点无关的映射（Endpoint-Independent Mapping）",
        "Endpoint-Independent Mapping",
    ),
    "stun.nat.mapping.adm": ("与地址相关的映射（Address-Dependent Mapping）", "Address-Dependent Mapping"),
    "stun.nat.mapping.apdm": (
        "与地址和端口相关的映射（Address and Port-Dependent Mapping）",
        "Address and Port-Dependent Mapping",
    ),
    "stun.nat.mapping.dependent": (
        "与目标相关的映射（地址相关或地址和端口相关，服务器不支持 RFC 5780，无法细分）",
        "destination-dependent mapping (address or address-and-port; the server lacks RFC 5780)",
    ),
    "stun.nat.filtering.eif": (
        "与端点无关的过滤（Endpoint-Independent Filtering）",
        "Endpoint-Independent Filtering",
    ),
    "stun.nat.filtering.adf": ("与地址相关的过滤（Address-Dependent Filtering）", "Address-Dependent Filtering"),
    "stun.nat.filtering.apdf": (
        "与地址和端口相关的过滤（Address and Port-Dependent Filtering）",
        "Address and Port-Dependent Filtering",
    ),
    "stun.nat.reason.unknown": ("原因不明", "reason unknown"),
    "stun.nat.reason.unreachable": ("无法连接 STUN 服务器", "no STUN server could be reached"),
    "stun.nat.reason.mapping_unknown": ("无法测出映射行为", "the mapping behaviour could not be measured"),
    "stun.nat.reason.filtering_unknown": ("无法测出过滤行为", "the filtering behaviour could not be measured"),
    "stun.nat.reason.no_answer": ("STUN 服务器没有响应", "the STUN server did not answer"),
    "stun.nat.reason.no_rfc5780": (
        "STUN 服务器不支持 RFC 5780（没有备用地址）",
        "the STUN server does not support RFC 5780 (no alternate address)",
    ),
    "stun.nat.reason.bad_other_address": (
        "STUN 服务器给出的备用地址无效",
        "the STUN server's alternate address is unusable",
    ),
    "stun.nat.reason.change_request_ignored": (
        "STUN 服务器不执行 CHANGE-REQUEST",
        "the STUN server does not honour CHANGE-REQUEST",
    ),
    "stun.nat.reason.alternate_silent": (
        "STUN 服务器的备用地址没有响应",
        "the STUN server's alternate address did not answer",
    ),
    "stun.nat.reason.one_server": (
        "只有一个 STUN 服务器可用且它不支持 RFC 5780",
        "only one STUN server answered and it lacks RFC 5780",
    ),
    "stun.nat.reason.tcp_filtering": (
        "STUN 无法测试 TCP 的过滤行为",
        "STUN cannot test TCP filtering",
    ),
    "stun.nat.advice.nat0": (
        "{proto}：本机直接拥有公网地址，没有 NAT，无需打洞；本程序照常保持并发布该地址。",
        "{proto}: this host has a public address, no NAT; nothing to traverse, the address is kept and published as usual.",
    ),
    "stun.nat.advice.nat1": (
        "{proto}：全锥形 NAT，可以直接使用本程序。",
        "{proto}: full cone NAT; nat1_traversal works as is.",
    ),
    "stun.nat.advice.nat2": (
        "{proto}：受限锥形 NAT，外部玩家无法直接连入。请在路由器上把本机设为 DMZ 主机或设置端口转发"
        "（光猫改桥接、由路由器拨号更好），然后用 -t -l :端口 从该端口重新测试。",
        "{proto}: restricted cone NAT; players outside cannot connect directly. Make this host the router's"
        " DMZ host or forward the port (ideally bridge the modem and dial up on the router), then test again from that port with -t -l :PORT.",
    ),
    "stun.nat.advice.nat3": (
        "{proto}：端口受限锥形 NAT，外部玩家无法直接连入。请在路由器上把本机设为 DMZ 主机或设置端口转发"
        "（光猫改桥接、由路由器拨号更好），然后用 -t -l :端口 从该端口重新测试。",
        "{proto}: port restricted cone NAT; players outside cannot connect directly. Make this host the router's"
        " DMZ host or forward the port (ideally bridge the modem and dial up on the router), then test again from that port with -t -l :PORT.",
    ),
    "stun.nat.advice.nat4": (
        "{proto}：对称型 NAT，映射随目标改变，本程序无法工作。请让光猫改桥接由路由器拨号、检查路由器的 NAT 设置，"
        "或向运营商申请公网 IP。",
        "{proto}: symmetric NAT, the mapping changes with the destination; nat1_traversal cannot work."
        " Bridge the modem and dial up on the router, check the router's NAT settings, or ask the ISP for a public IP.",
    ),
    "stun.nat.advice.tcp_eim": (
        "{proto}：映射与端点无关，但 STUN 测不出 TCP 的过滤行为。若 UDP 为全锥形或已设置 DMZ/端口转发，"
        "TCP 通常也能用；直接运行本程序，从外网连接映射地址即可验证。",
        "{proto}: the mapping is endpoint-independent, but STUN cannot test TCP filtering. If UDP is full cone"
        " or a DMZ/port forward is set, TCP usually works too; run nat1_traversal and connect to the mapped"
        " address from outside to check.",
    ),
    "stun.nat.advice.unknown": (
        "{proto}：无法判断 NAT 类型，请稍后重试，或在配置中换用支持 RFC 5780 的 STUN 服务器。",
        "{proto}: the NAT type could not be determined; try again later or configure STUN servers that"
        " support RFC 5780.",
    ),
    "stun.nat.advice.unreachable": (
        "{proto}：连不上任何 STUN 服务器，请检查网络连接或配置中的 {key} 列表。",
        "{proto}: no STUN server could be reached; check the network or the {key} list in the config.",
    ),
}
