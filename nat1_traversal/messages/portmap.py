"""Messages of the portmap area (UPnP IGD, NAT-PMP, PCP): key -> (zh, en). Keys start with "portmap."."""

from __future__ import annotations

_DO = (
    "请在路由器管理页面打开 UPnP / NAT-PMP，或手动添加端口转发（转发到本机的同一端口），或把本机设为 DMZ 主机",
    "enable UPnP / NAT-PMP in the router's settings, or add a port forward (to this host, same port) or a DMZ host by hand",
)

MESSAGES: dict[str, tuple[str, str]] = {
    # SPEC §14 lines
    "portmap.opened": (
        "已通过 {method} 在路由器 {gateway} 上打开 {proto} 端口 {port}",
        "opened {proto} port {port} on router {gateway} via {method}",
    ),
    "portmap.renewed": (
        "已续期 {method} 端口转发 {proto} {port}（{lifetime} 秒）",
        "renewed the {method} forward {proto} {port} ({lifetime} s)",
    ),
    "portmap.removed": (
        "已删除路由器 {gateway} 上的 {proto} 端口 {port} 转发（{method}）",
        "removed the {method} forward of {proto} port {port} on router {gateway}",
    ),
    "portmap.remove_failed": (
        "无法删除路由器 {gateway} 上的 {proto} 端口 {port} 转发：{error}",
        "could not remove the forward of {proto} port {port} on router {gateway}: {error}",
    ),
    "portmap.stale_removed": (
        "已删除上次运行遗留的端口转发 {proto} {port}（{description}）",
        "removed a stale forward {proto} {port} left by an earlier run ({description})",
    ),
    "portmap.lost": (
        "路由器 {gateway} 似乎重启过，端口转发已丢失，正在重新打开",
        "router {gateway} seems to have restarted and lost the forward; opening it again",
    ),
    "portmap.double_nat": (
        "路由器 {gateway} 的外网地址 {external} 是内网地址：这是双重 NAT（光猫/运营商之后还有一层路由器）",
        "router {gateway} reports the private external address {external}: this is a double NAT",
    ),
    "portmap.nothing_answered": (
        "路由器 {gateway} 没有响应 PCP、NAT-PMP 或 UPnP 请求",
        "router {gateway} answered none of PCP, NAT-PMP and UPnP",
    ),
    "portmap.no_gateway": (
        "找不到默认网关，无法请求路由器端口转发",
        "no default gateway found; cannot ask a router for a port forward",
    ),
    "portmap.failed": (
        "无法在路由器 {gateway} 上打开 {proto} 端口 {port}：{error}。" + _DO[0],
        "could not open {proto} port {port} on router {gateway}: {error}. " + _DO[1],
    ),
    "portmap.refused_warning": (
        "路由器 {gateway} 拒绝打开 {proto} 端口 {port}（{method}）：{reason}。" + _DO[0],
        "router {gateway} refused to open {proto} port {port} ({method}): {reason}. " + _DO[1],
    ),
    # status page (SPEC §12 extension)
    "portmap.status.label": ("路由器端口转发", "router port forward"),
    "portmap.status.held": ("{method}（路由器 {gateway}），{renews} 续期", "{method} (router {gateway}), renews {renews}"),
    "portmap.status.permanent": ("{method}（路由器 {gateway}），永久转发", "{method} (router {gateway}), permanent"),
    "portmap.status.not_held": ("未打开", "not open"),
    "portmap.status.off": ("已关闭（upnp: false）", "off (upnp: false)"),
    # config keys
    "portmap.config.bad_upnp": (
        "upnp 只能是 \"auto\"、true 或 false，而不是 {value}",
        "upnp must be \"auto\", true or false, not {value}",
    ),
    "portmap.config.bad_gateway": (
        "upnp_gateway 应为路由器的 IPv4 地址（如 \"192.168.1.1\"）或 null，而不是 {value}",
        "upnp_gateway must be the router's IPv4 address (e.g. \"192.168.1.1\") or null, not {value}",
    ),
    # errors
    "portmap.refused": ("路由器拒绝了请求（{method} 错误 {code}）：{reason}", "the router refused ({method} error {code}): {reason}"),
    "portmap.bad_reply": ("路由器的 {method} 应答格式错误：{detail}", "malformed {method} reply from the router: {detail}"),
    "portmap.bad_version": (
        "路由器的 {method} 应答版本号不对（{version}）",
        "the router's {method} reply has the wrong version ({version})",
    ),
    "portmap.bad_nonce": ("路由器的 {method} 应答与请求不匹配（nonce 不同）", "the router's {method} reply does not match the request (nonce differs)"),
    "portmap.timeout": ("路由器 {gateway} 在 {timeout} 秒内没有 {method} 应答", "router {gateway} gave no {method} answer within {timeout} s"),
    "portmap.unreachable": ("无法联系路由器 {gateway}：{error}", "cannot reach router {gateway}: {error}"),
    "portmap.unknown_code": ("未知错误码", "unknown result code"),
    # PCP result codes (RFC 6887 §7.4)
    "portmap.pcp.success": ("成功", "success"),
    "portmap.pcp.unsupp_version": ("路由器不支持此 PCP 版本", "the router does not support this PCP version"),
    "portmap.pcp.not_authorized": ("路由器不允许本机创建端口映射（可能关闭了 PCP/UPnP）", "the router does not allow this host to create mappings (PCP/UPnP may be off)"),
    "portmap.pcp.malformed_request": ("路由器认为请求格式错误", "the router found the request malformed"),
    "portmap.pcp.unsupp_opcode": ("路由器不支持 MAP 操作", "the router does not support the MAP opcode"),
    "portmap.pcp.unsupp_option": ("路由器不支持请求中的选项", "the router does not support an option of the request"),
    "portmap.pcp.malformed_option": ("路由器认为请求中的选项格式错误", "the router found an option malformed"),
    "portmap.pcp.network_failure": ("路由器自己的外网连接有问题（外网地址可能是内网地址，即双重 NAT）", "the router has a network failure (its external address may be private: a double NAT)"),
    "portmap.pcp.no_resources": (
        "路由器资源不足或已关闭转发（miniupnpd 在双重 NAT、外网地址为内网地址时也这样回答）",
        "the router is out of resources or has forwarding off (miniupnpd also says so in a double NAT, "
        "when its external address is private)",
    ),
    "portmap.pcp.unsupp_protocol": ("路由器不支持该协议", "the router does not support this protocol"),
    "portmap.pcp.user_ex_quota": ("本机的端口映射数量超出路由器的配额", "this host is over its mapping quota on the router"),
    "portmap.pcp.cannot_provide_external": ("路由器无法提供所请求的外部端口（可能已被占用）", "the router cannot provide the requested external port (it may be taken)"),
    "portmap.pcp.address_mismatch": ("路由器看到的源地址与请求中的地址不同（中间还有一层 NAT）", "the source address the router sees differs from the request's (another NAT in between)"),
    "portmap.pcp.excessive_remote_peers": ("远端对等方过多", "too many remote peers"),
    # UPnP IGD SOAP faults; {description} is the router's own words
    "portmap.upnp.401": ("路由器不认识此操作（{description}）", "the router does not know this action ({description})"),
    "portmap.upnp.402": ("路由器认为参数无效（{description}）", "the router found the arguments invalid ({description})"),
    "portmap.upnp.501": (
        "路由器执行失败（{description}）；miniupnpd 在自己的外网地址是内网地址（双重 NAT）或 STUN 自检发现前面不是全锥形 NAT 时会这样拒绝",
        "the router's action failed ({description}); miniupnpd refuses like this when its own external address is private "
        "(a double NAT) or its STUN self-test finds a restricting NAT in front",
    ),
    "portmap.upnp.606": ("路由器不允许本机做此操作（{description}）", "the router does not allow this host this action ({description})"),
    "portmap.upnp.713": ("路由器上没有该条目（{description}）", "no such entry on the router ({description})"),
    "portmap.upnp.714": ("路由器上没有该端口转发（{description}）", "no such port forward on the router ({description})"),
    "portmap.upnp.715": ("路由器不接受通配的源地址（{description}）", "the router does not accept a wildcard source address ({description})"),
    "portmap.upnp.716": ("路由器不接受通配的外部端口（{description}）", "the router does not accept a wildcard external port ({description})"),
    "portmap.upnp.718": (
        "该外部端口已被另一条转发占用（可能属于另一台设备）（{description}）",
        "the external port is already forwarded elsewhere, perhaps to another device ({description})",
    ),
    "portmap.upnp.724": ("路由器要求内外端口相同（{description}）", "the router requires equal internal and external ports ({description})"),
    "portmap.upnp.725": ("路由器只支持永久转发（{description}）", "the router only supports permanent forwards ({description})"),
    "portmap.upnp.726": ("路由器只支持通配的远端地址（{description}）", "the router only supports a wildcard remote host ({description})"),
    "portmap.upnp.727": ("路由器只支持通配的外部端口（{description}）", "the router only supports a wildcard external port ({description})"),
    "portmap.upnp.728": ("路由器没有可用的端口转发名额（{description}）", "the router has no port forward left ({description})"),
    "portmap.upnp.729": (
        "与路由器的其他机制冲突（{description}）；miniupnpd 在判断无法转发（如双重 NAT）时会这样拒绝",
        "conflicts with another mechanism on the router ({description}); miniupnpd answers so when forwarding "
        "is impossible (e.g. a double NAT)",
    ),
    "portmap.upnp.732": ("路由器不接受通配的内部端口（{description}）", "the router does not accept a wildcard internal port ({description})"),
    "portmap.upnp.other": ("路由器返回错误（{description}）", "the router returned an error ({description})"),
    "portmap.upnp.other_port": (
        "路由器分配了另一个外部端口 {got}，而不是 {port}",
        "the router assigned external port {got} instead of {port}",
    ),
    # NAT-PMP result codes (RFC 6886 §3.5)
    "portmap.natpmp.success": ("成功", "success"),
    "portmap.natpmp.unsupported_version": ("路由器不支持此 NAT-PMP 版本", "the router does not support this NAT-PMP version"),
    "portmap.natpmp.not_authorized": ("路由器拒绝了端口映射（可能关闭了 NAT-PMP）", "the router refused the mapping (NAT-PMP may be off)"),
    "portmap.natpmp.network_failure": ("路由器还没有外网地址，或外网地址是内网地址（双重 NAT）", "the router has no usable external address (perhaps a private one: a double NAT)"),
    "portmap.natpmp.out_of_resources": ("路由器资源不足（映射数量已满）", "the router is out of resources (too many mappings)"),
    "portmap.natpmp.unsupported_opcode": ("路由器不支持此 NAT-PMP 操作", "the router does not support this NAT-PMP opcode"),
}
