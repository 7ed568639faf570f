"""Messages of SPEC section 15: notifications, the DNS-over-HTTPS resolver and CDN origins.

key -> (zh, en); keys start with "notify.", "resolver." and "cdn.".
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # the notification itself (title and the default body templates)
    "notify.title": ("{name} 的映射地址已更新", "new address of {name}"),
    "notify.default_template": (
        "{name} 的新地址：{address}，域名：{fqdn}",
        "{name} is now at {address}, domain name {fqdn}",
    ),
    "notify.default_template_no_domain": ("{name} 的新地址：{address}", "{name} is now at {address}"),
    # config problems
    "notify.bad_list": (
        "notify：必须是 Apprise 地址（字符串）组成的列表，例如 [\"tgram://机器人令牌/聊天ID\"]",
        "notify: must be a list of Apprise URLs (strings), e.g. [\"tgram://bottoken/chatid\"]",
    ),
    "notify.bad_item": (
        "{field}：必须是非空字符串（一个 Apprise 地址）",
        "{field}: must be a non-empty string (an Apprise URL)",
    ),
    "notify.bad_url": (
        "{field}：Apprise 无法识别这个 {scheme}:// 地址{reason}（地址格式见 README 的“通知”一节）",
        "{field}: Apprise cannot use this {scheme}:// URL{reason} (see the Notifications section of README)",
    ),
    "notify.no_apprise": (
        "notify：需要 Apprise 库，但当前 Python 中找不到它（pip install apprise）",
        "notify: needs the Apprise library, which this Python does not have (pip install apprise)",
    ),
    "notify.bad_template": (
        "notify_template：{error}；可用字段为 {fields}",
        "notify_template: {error}; the fields are {fields}",
    ),
    "notify.template_field": ("未知字段 {{{field}}}", "unknown field {{{field}}}"),
    # at run time
    "notify.sent": ("已发送通知到 {target}：{address}", "notification sent to {target}: {address}"),
    "notify.failed": (
        "发送通知到 {target} 失败：{reason}（{delay:.0f} 秒后重试）",
        "notification to {target} failed: {reason} ({delay:.0f} s until the next try)",
    ),
    "notify.no_reason": ("服务未接受通知", "the service did not accept it"),
    "notify.cancelled": (
        "地址 {address} 的通知未全部送达就已取消（映射地址已变化，或程序正在退出）",
        "the notification of {address} was cancelled before it reached every URL (a newer mapping, or exiting)",
    ),
    # resolver (DNS over HTTPS)
    "resolver.bad": (
        "resolver：{value} 无效，应为 \"system\" 或 DNS-over-HTTPS 地址（https://…/resolve 或 https://…/dns-query）",
        "resolver: {value} is invalid; use \"system\" or a DNS-over-HTTPS URL (https://…/resolve or https://…/dns-query)",
    ),
    "resolver.http_not_local": (
        "resolver：明文 http:// 仅允许用于本机地址（127.0.0.1 / ::1），其它请用 https://",
        "resolver: plain http:// is only allowed for this host (127.0.0.1 / ::1); use https://",
    ),
    "resolver.fallback": (
        "DNS-over-HTTPS 查询 {name} 失败（{error}），改用系统解析",
        "DNS-over-HTTPS lookup of {name} failed ({error}); using the system resolver",
    ),
    "resolver.query_config_ignored": (
        "-q 不使用配置文件（{error}），改用系统解析",
        "-q ignores the config file ({error}) and uses the system resolver",
    ),
    "resolver.fake_ip": (
        "DNS-over-HTTPS 对 {name} 的回答 {ip} 属于 fake-IP 网段 198.18.0.0/15，已丢弃",
        "the DNS-over-HTTPS answer {ip} for {name} is in the fake-IP range 198.18.0.0/15; dropped",
    ),
    # CDN origins (dns: edgeone / edgeone_intl / aliesa)
    "cdn.bad_type": (
        "dns：{provider} 是 CDN 回源，只能用于 type 为 web 的服务（当前 type 为 {type}）",
        "dns: {provider} sets a CDN origin and only works with type web (type is {type})",
    ),
    "cdn.domain_missing": (
        "{provider} 中没有加速域名 {name}",
        "{provider} has no acceleration domain {name}",
    ),
    "cdn.hint.domain_missing": (
        "请先在 EdgeOne 控制台的站点 {zone} 下添加加速域名 {name}（源站任填），程序只修改已有域名的源站 IP 和回源端口。",
        "Add the acceleration domain {name} to the site {zone} in the EdgeOne console first (any origin); "
        "the program only changes the origin IP and ports of an existing domain.",
    ),
    "cdn.record_missing": ("{provider} 站点中没有记录 {name}", "{provider}: the site has no record {name}"),
    "cdn.hint.record_missing": (
        "请先在 ESA 控制台的站点 {zone} 下添加 A/AAAA 记录 {name}（开启代理加速），程序只修改已有记录的 IP。",
        "Add the A/AAAA record {name} (proxied) to the site {zone} in the ESA console first; "
        "the program only changes the IP of an existing record.",
    ),
    "cdn.rule_missing": ("{provider} 站点中没有名为 {name} 的回源规则", "{provider}: the site has no origin rule named {name}"),
    "cdn.hint.rule_missing": (
        "请先在 ESA 控制台的站点 {zone} 下添加名为 {name}（与 sub_domain 相同）的回源规则，程序只修改它的回源端口。",
        "Add an origin rule named {name} (the sub_domain) to the site {zone} in the ESA console first; "
        "the program only changes its origin ports.",
    ),
}
