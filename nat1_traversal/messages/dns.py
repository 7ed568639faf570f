"""Messages of the dns area: key -> (zh, en). Keys start with "dns."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # publisher
    "dns.published": ("DDNS更新成功 {name} -> {ip}:{port}", "DDNS updated {name} -> {ip}:{port}"),
    "dns.unchanged": (
        "DDNS记录已是最新，无需更新 {name} -> {ip}:{port}",
        "DDNS records already up to date {name} -> {ip}:{port}",
    ),
    "dns.retry": (
        "DDNS更新失败：{error}（{delay:.0f} 秒后重试）",
        "DDNS update failed: {error} (retrying in {delay:.0f} s)",
    ),
    "dns.gave_up": ("DDNS更新失败，已放弃：{error}", "DDNS update failed, giving up: {error}"),
    "dns.confirm_failed": (
        "{provider} 写入后读回的记录与期望不一致",
        "{provider}: the records read back after writing differ from what was written",
    ),
    "dns.unexpected": ("DDNS更新时发生意外错误：{error}", "unexpected error while updating DDNS: {error}"),
    # on_change hook
    "dns.hook_failed": (
        "on_change 命令执行失败（退出码 {code}）：{command}",
        "on_change command failed (exit code {code}): {command}",
    ),
    "dns.hook_missing": (
        "无法运行 on_change 命令 {command}：{error}",
        "cannot run on_change command {command}: {error}",
    ),
    "dns.hook_timeout": (
        "on_change 命令 {seconds:.0f} 秒内未结束，已终止：{command}",
        "on_change command did not finish within {seconds:.0f} s and was killed: {command}",
    ),
    # provider errors (message + hint)
    "dns.auth_failed": ("{provider} 拒绝了凭据：{detail}", "{provider} rejected the credentials: {detail}"),
    "dns.hint.auth": (
        "请检查配置中的 id 和 token 是否正确、是否已过期或被禁用。",
        "Check that id and token in the config are correct and not expired or disabled.",
    ),
    "dns.forbidden": (
        "{provider} 拒绝操作域名 {zone}：{detail}",
        "{provider} refused to change zone {zone}: {detail}",
    ),
    "dns.hint.permission": (
        "凭据有效，但没有该域名的 DNS 编辑权限；请为令牌/子账号授予该域名的 DNS 记录编辑权限（{permission}）。",
        "The credentials are valid but lack DNS edit permission on this zone; grant it to the token or "
        "sub-account ({permission}).",
    ),
    "dns.hint.auth_or_permission": (
        "请检查 token 是否正确、未过期，并且拥有该域名的 DNS 编辑权限（{permission}）。",
        "Check that the token is correct and not expired, and that it has DNS edit permission on this zone "
        "({permission}).",
    ),
    "dns.zone_not_found": (
        "在 {provider} 账户中找不到域名 {zone}",
        "zone {zone} was not found in the {provider} account",
    ),
    "dns.hint.zone": (
        "domain 应填写已添加到该服务商的主域名（如 example.com），sub_domain 填写其下的主机名。",
        "domain must be a zone already added at the provider (e.g. example.com); "
        "put the host label in sub_domain.",
    ),
    "dns.zone_not_served": (
        "DNS 服务器 {server} 不负责区域 {zone}",
        "DNS server {server} is not authoritative for zone {zone}",
    ),
    "dns.hint.zone_server": (
        "domain 应填写该服务器上配置的区域名（如 example.com），endpoint 应指向该区域的主服务器。",
        "domain must be a zone configured on that server (e.g. example.com), and endpoint its primary.",
    ),
    "dns.reply_too_large": (
        "{provider} 返回的内容超过 {limit} KiB，已拒收",
        "{provider} sent a reply larger than {limit} KiB; it was refused",
    ),
    "dns.rate_limited": ("{provider} 请求过于频繁：{detail}", "{provider} is rate limiting us: {detail}"),
    "dns.hint.rate": ("稍后会自动重试。", "Will retry automatically later."),
    "dns.network": ("无法连接 {provider}：{detail}", "cannot reach {provider}: {detail}"),
    "dns.timeout": ("{provider} 在 {seconds:.0f} 秒内没有响应", "{provider} did not answer within {seconds:.0f} s"),
    "dns.api_error": ("{provider} 返回错误：{detail}", "{provider} returned an error: {detail}"),
    "dns.unavailable": (
        "使用 {provider} 需要 Python 包 {package}，请先执行：pip install {package}",
        "{provider} needs the Python package {package}; install it with: pip install {package}",
    ),
    # webhook
    "dns.webhook_plain_http": (
        "webhook 地址使用明文 http://，token 会以明文传输：{url}",
        "the webhook URL uses plain http://, so the token travels unencrypted: {url}",
    ),
    # rfc2136
    "dns.rfc2136_bad_key": (
        "DNS 服务器 {server} 拒绝了 TSIG 密钥 {key}：{detail}",
        "DNS server {server} rejected TSIG key {key}: {detail}",
    ),
    "dns.hint.tsig": (
        "请检查 id（密钥名）、token（base64 密钥）和 tsig_algorithm 是否与服务器配置一致。",
        "Check that id (key name), token (base64 secret) and tsig_algorithm match the server's configuration.",
    ),
    "dns.rfc2136_key_refused": (
        "DNS 服务器 {server} 拒绝了 TSIG 密钥 {key}：密钥被拒绝（id、token 或 tsig_algorithm 有误？服务器回复了未签名的 {rcode}）",
        "DNS server {server} rejected TSIG key {key}: key rejected (wrong id/token/algorithm? "
        "the server sent an unsigned {rcode})",
    ),
    "dns.rfc2136_refused": (
        "DNS 服务器 {server} 拒绝了更新（{rcode}）",
        "DNS server {server} refused the update ({rcode})",
    ),
    "dns.hint.rfc2136_acl": (
        "请在服务器的 ACL/update-policy 中允许该 TSIG 密钥更新此区域。",
        "Allow this TSIG key to update the zone in the server's ACL/update-policy.",
    ),
    # validate_settings
    "dns.invalid.kind": ("dns 不支持 {kind}，可选：{choices}", "dns {kind} is not supported; choose one of: {choices}"),
    "dns.invalid.token": ("使用 {provider} 时 token 不能为空", "token must not be empty for {provider}"),
    "dns.invalid.id": ("使用 {provider} 时 id 不能为空", "id must not be empty for {provider}"),
    "dns.invalid.domain": ("使用 {provider} 时 domain 不能为空", "domain must not be empty for {provider}"),
    "dns.invalid.sub_domain": (
        "使用 {provider} 时 sub_domain 不能为空（根域名请填 \"@\"）",
        "sub_domain must not be empty for {provider} (use \"@\" for the zone apex)",
    ),
    "dns.invalid.name": ("{field} 不是合法的域名：{value}", "{field} is not a valid domain name: {value}"),
    "dns.invalid.ttl": ("ttl 必须是正整数：{value}", "ttl must be a positive integer: {value}"),
    "dns.invalid.cloudflare_ttl": (
        "Cloudflare 的 ttl 只能是 1（自动）或 60～86400：{value}",
        "Cloudflare ttl must be 1 (automatic) or 60..86400: {value}",
    ),
    "dns.invalid.endpoint": (
        "endpoint 必须是 http:// 或 https:// 开头的地址：{value}",
        "endpoint must be an http:// or https:// URL: {value}",
    ),
    "dns.invalid.webhook_url": (
        "使用 webhook 时 id 必须是 http:// 或 https:// 开头的地址：{value}",
        "for webhook, id must be an http:// or https:// URL: {value}",
    ),
    "dns.invalid.server_endpoint": (
        "使用 {provider} 时 endpoint 必须是主服务器的 \"host[:port]\"：{value}",
        "for {provider}, endpoint must be the primary's \"host[:port]\": {value}",
    ),
    "dns.invalid.rfc2136_secret": (
        "使用 rfc2136 时 token 必须是 base64 编码的 TSIG 密钥",
        "for rfc2136, token must be the base64-encoded TSIG secret",
    ),
    "dns.invalid.tsig_algorithm": (
        "不支持的 tsig_algorithm：{value}，可选：{choices}",
        "unsupported tsig_algorithm {value}; choose one of: {choices}",
    ),
    "dns.bad_reply": (
        "{provider} 返回了无法识别的内容（{error}），稍后重试；如果一直出现，请用 -d 运行并反馈日志",
        "{provider} sent a reply nat1_traversal cannot understand ({error}); retrying. If it persists, run with -d and report the log",
    ),
}
