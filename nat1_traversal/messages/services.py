"""Messages of several services in one process (SPEC section 11): key -> (zh, en). Keys start with "services."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # config
    "services.not_list": (
        "services：必须是由服务对象 {{...}} 组成的非空列表",
        "services: must be a non-empty list of service objects {{...}}",
    ),
    "services.not_object": (
        "{path}：必须是一个 JSON 对象 {{...}}",
        "{path}: must be a JSON object {{...}}",
    ),
    "services.top_level_only": (
        "{path}：{key} 只能写在最外层（对所有服务生效），不能写在 services 里",
        "{path}: {key} may only stand at the top level (it applies to every service), not inside services",
    ),
    "services.bad_name": (
        "{path}：{value} 无效，服务名只能由 1 到 32 个英文字母、数字、_ 或 - 组成",
        "{path}: {value} is invalid; a service name is 1 to 32 letters, digits, _ or -",
    ),
    "services.duplicate_name": (
        "{path}：服务名 \"{name}\" 与 {other} 重复，每个服务的 name 必须不同",
        "{path}: the service name \"{name}\" is also used by {other}; every service needs its own name",
    ),
    "services.duplicate_port": (
        "{path}：{proto} 端口 {port} 已被 {other}（{name}）使用，两个服务不能用同一协议的同一本地端口",
        "{path}: {proto} port {port} is already used by {other} ({name}); two services cannot share a "
        "protocol's local port",
    ),
    "services.in_service": ("{path}：{problem}", "{path}: {problem}"),
    "services.cli_override": (
        "配置文件中有 {count} 个服务，-l/-r 只能用于单个服务；请在配置文件的 services 中分别设置 local/remote",
        "the config file has {count} services; -l/-r only work with one service: set local/remote "
        "in the config file's services",
    ),
    # running
    "services.failed": (
        "服务 {name} 已停止：{error}（其余服务继续运行）",
        "service {name} stopped: {error} (the other services go on)",
    ),
    "services.address_moved": (
        "{fqdn}：服务 {name} 已停止，A 记录改为发布服务 {next} 的地址 {ip}",
        "{fqdn}: service {name} has stopped; the A record now publishes service {next}'s address {ip}",
    ),
    "services.all_failed": ("所有服务都已停止，程序退出", "every service has stopped; exiting"),
    "services.address_conflict": (
        "{fqdn}：服务 {name} 的公网地址 {ip} 与服务 {first} 的 {first_ip} 不同，"
        "同一域名只能有一个 A 记录，发布的是 {first} 的地址；请为它们设置不同的 sub_domain",
        "{fqdn}: service {name}'s public address {ip} differs from service {first}'s {first_ip}; one name "
        "has one A record, so {first}'s address is published. Give them different sub_domain values",
    ),
}
