"""Messages of the reachability checks (SPEC section 13): key -> (zh, en). Keys start with "reach."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # SPEC section 13: these two lines start exactly like this.
    "reach.confirmed": ("映射地址 {addr} 已确认可从公网访问", "Mapped address {addr} is confirmed reachable from the Internet"),
    "reach.unreachable": (
        "映射地址 {addr} 无法从公网访问（{by} 检测）。外网玩家连不上：请检查本机防火墙是否放行该端口、"
        "路由器是否拦截入站连接，或运营商是否封锁了该端口；若 NAT 不是全锥形，请在路由器上设置端口转发"
        "或 DMZ（光猫改桥接、由路由器拨号更好），然后用 -t 重新测试 {proto}。",
        "Mapped address {addr} is not reachable from the Internet (checked by {by}). Players outside cannot"
        " connect: check that this host's firewall lets the port in, that the router does not block inbound"
        " connections and that the ISP does not block the port; if the NAT is not full cone, set up a port"
        " forward or DMZ on the router (ideally bridge the modem and dial up on the router), then test {proto}"
        " again with -t.",
    ),
    "reach.unreachable_lost": (
        "映射地址 {addr} 无法从公网访问（{by} 检测）：映射在两次保活之间失效了，STUN 现在报告 {now}。"
        "NAT 的空闲超时比 keepalive_interval（当前 {interval} 秒）短，外网玩家有时连不上：请把 "
        "keepalive_interval 调小（例如 5）。",
        "Mapped address {addr} is not reachable from the Internet (checked by {by}): the mapping was lost"
        " between two keepalives, STUN now reports {now}. The NAT's idle timeout is shorter than"
        " keepalive_interval (now {interval} s), so players outside fail part of the time: lower"
        " keepalive_interval (e.g. to 5).",
    ),
    "reach.unreachable_idle": (
        "映射地址 {addr} 无法从公网访问（{by} 检测）：NAT 在两次保活之间忘记了这个映射，保活后又能访问。"
        "NAT 的空闲超时比 keepalive_interval（当前 {interval} 秒）短，外网玩家有时连不上：请把 "
        "keepalive_interval 调小（例如 5）。",
        "Mapped address {addr} is not reachable from the Internet (checked by {by}): the NAT forgot the"
        " mapping between two keepalives and it works again after one. The NAT's idle timeout is shorter"
        " than keepalive_interval (now {interval} s), so players outside fail part of the time: lower"
        " keepalive_interval (e.g. to 5).",
    ),
    "reach.by_hairpin": ("回环", "hairpin"),
    "reach.http_timeout": ("检测服务 {url} 在 {timeout} 秒内没有回应", "Checker {url} did not answer within {timeout} s"),
    "reach.http_failed": ("无法连接检测服务 {url}：{error}", "Cannot reach checker {url}: {error}"),
    "reach.http_bad_url": ("检测服务地址无效：{url}", "Not a checker URL: {url}"),
    "reach.http_bad_reply": ("检测服务 {url} 的回复无法识别", "Checker {url} sent a reply we cannot read"),
    "reach.config.not_url": (
        "reach_check 中的 {value} 不是 http:// 或 https:// 开头的网址模板",
        "{value} in reach_check is not a URL template starting with http:// or https://",
    ),
    "reach.config.no_port": (
        "reach_check 中的 {value} 缺少 {{port}}（映射端口）",
        "{value} in reach_check lacks {{port}} (the mapped port)",
    ),
    "reach.config.bad_placeholder": (
        "reach_check 中的 {value} 含有未知占位符：只能使用 {{ip}}、{{port}}、{{proto}}",
        "{value} in reach_check has an unknown placeholder: only {{ip}}, {{port}} and {{proto}} exist",
    ),
    "reach.config.bad_list": (
        "reach_check 必须是 null（内置检测服务）、false（关闭）或最多 {max} 个网址模板的列表",
        "reach_check must be null (built-in checkers), false (off) or a list of at most {max} URL templates",
    ),
    "reach.config.bad_interval": (
        "reach_interval 的值 {value} 无效：必须是 {minimum} 到 {maximum} 之间的秒数"
        "（使用内置检测服务时至少 60 秒）",
        "reach_interval {value} is invalid: it must be a number of seconds from {minimum} to {maximum}"
        " (at least 60 with the built-in checkers)",
    ),
    # -t (SPEC section 13): the TCP verdict through the checks.
    "reach.nat.reason.not_reached": (
        "检测没有连到测试端口",
        "no check reached the test port",
    ),
    "reach.nat.reason.claimed_not_seen": (
        "检测服务说可达，但连接没有到达测试端口",
        "a checker said reachable but its connection never reached the test port",
    ),
    "reach.nat.tcp_reached": ("TCP 入站检测：{by} 连到了测试端口 {addr}", "TCP inbound check: {by} reached the test port at {addr}"),
    "reach.nat.tcp_unreachable": (
        "TCP 入站检测：{by} 报告 {addr} 无法从外网连入",
        "TCP inbound check: {by} reports {addr} unreachable from outside",
    ),
    "reach.nat.hairpin_inner": (
        "TCP 入站检测：回环连接来自内网地址 {source}，不能证明过滤行为",
        "TCP inbound check: the hairpin connection came from the inner address {source}, which proves nothing about filtering",
    ),
    # SPEC section 13, last bullet: STUN through a proxy.
    "reach.proxy.fake_ip": (
        "服务器域名被解析到了 fake-IP 网段 198.18.0.0/15（{names}）：STUN 流量多半进了代理"
        "（OpenClash / Clash 的 fake-IP 模式），测到的是代理出口而不是你的 NAT，发布的地址玩家连不上。"
        "请让 STUN 直连：在 OpenClash 的绕过规则里放行这些服务器，或把规则集 geosite:category-stun 设为 DIRECT；"
        "也可以把 resolver 设为 DNS-over-HTTPS 地址",
        "Server names resolve into the fake-IP range 198.18.0.0/15 ({names}): STUN traffic most likely goes"
        " through a proxy (OpenClash / Clash in fake-IP mode), which measures the proxy's exit instead of your"
        " NAT, and players cannot reach a published address. Let STUN go direct: bypass these servers in"
        " OpenClash's rules, or route the geosite:category-stun rule set DIRECT; or set resolver to a"
        " DNS-over-HTTPS URL",
    ),
    "reach.proxy.disagree": (
        "STUN 服务器看到的公网地址不一致（{first} 与 {second}），而映射本身与端点无关：一个 NAT 对同一台主机只用一个"
        "公网 IP，STUN 流量多半经过了代理（或多条线路）。请让 STUN 直连：在 OpenClash 的绕过规则里放行 STUN 服务器，"
        "或把规则集 geosite:category-stun 设为 DIRECT",
        "STUN servers see different public addresses ({first} and {second}) while the mapping is"
        " endpoint-independent: a NAT gives one host one public IP, so STUN traffic most likely goes through a"
        " proxy (or several lines). Let STUN go direct: bypass the STUN servers in OpenClash's rules, or route"
        " the geosite:category-stun rule set DIRECT",
    ),
    "reach.proxy.echo": (
        "检测服务 {by} 看到本机的公网 IP 是 {seen}，而 STUN 报告的映射是 {addr}：本机发出的流量没有都走同一个 NAT"
        "（代理或多条线路），它的检测结果不算数。若用了 OpenClash 等代理，请让 STUN 和检测服务直连："
        "在绕过规则里放行它们，或把规则集 geosite:category-stun 设为 DIRECT",
        "Checker {by} sees this host's public IP as {seen}, while STUN reports the mapping {addr}: traffic from"
        " this host does not all leave through the same NAT (a proxy or several lines), so its answer does not"
        " count. With a proxy such as OpenClash, let STUN and the checkers go direct: bypass them in its rules,"
        " or route the geosite:category-stun rule set DIRECT",
    ),
}
