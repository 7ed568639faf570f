"""Messages of config.json loading and validation: key -> (zh, en)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "config.invalid": (
        "配置文件 {path} 有 {count} 处错误：",
        "config file {path} has {count} problem(s):",
    ),
    "config.missing": (
        "配置文件 {path} 不存在。请用 -c 指定配置文件，或在终端中运行本程序以生成默认配置。",
        "config file {path} does not exist. Pass one with -c, or run in a terminal to create the default one.",
    ),
    "config.unreadable": ("无法读取配置文件 {path}：{error}", "cannot read config file {path}: {error}"),
    "config.bad_encoding": (
        "配置文件 {path} 既不是 UTF-8 也不是 GBK 编码，请用记事本另存为 UTF-8。",
        "config file {path} is neither UTF-8 nor GBK; save it as UTF-8.",
    ),
    "config.bad_json": (
        "配置文件 {path} 不是合法的 JSON：第 {line} 行第 {column} 列，{error}（注意：字符串要用英文双引号，最后一项后不能有逗号）",
        "config file {path} is not valid JSON: line {line}, column {column}: {error}",
    ),
    "config.not_regular": (
        "配置文件 {path} 不是普通文件（是目录、管道或设备？），请用 -c 指定一个 JSON 文件。",
        "config file {path} is not a regular file (a folder, pipe or device?); pass a JSON file with -c.",
    ),
    "config.too_big": (
        "配置文件 {path} 太大（超过 {limit} 字节），不像是配置文件，已拒绝读取。",
        "config file {path} is too large (over {limit} bytes) to be a config file; not read.",
    ),
    "config.path_too_long": (
        "配置文件路径太长（{length} 个字符），请检查 -c 参数。",
        "the config file path is too long ({length} characters); check -c.",
    ),
    "config.number_too_long": (
        "配置文件 {path} 中有位数过多的数字（超过 {limit} 位），请检查数值。",
        "config file {path} holds a number with more than {limit} digits; check the values.",
    ),
    "config.too_deep": (
        "配置文件 {path} 嵌套层数过多（超过 {limit} 层），配置文件只需要一层 {{...}}。",
        "config file {path} is nested more than {limit} levels deep; a config is one flat {{...}}.",
    ),
    "config.not_object": ("最外层必须是一个 JSON 对象 {{...}}", "the top level must be a JSON object {{...}}"),
    "config.unknown_key": (
        "配置文件中有未知字段 \"{key}\"，已忽略（拼写错误？）",
        "unknown key \"{key}\" in the config file, ignored (a typo?)",
    ),
    "config.bad_choice": (
        "{field}：不支持的值 {value}，可选值为 {allowed}",
        "{field}: unsupported value {value}; allowed: {allowed}",
    ),
    "config.not_text": ("{field}：必须是字符串或 null", "{field}: must be a string or null"),
    "config.bad_int": ("{field}：{value} 无效，必须是 {minimum} 到 {maximum} 之间的整数，或 null",
                       "{field}: {value} is invalid; must be an integer from {minimum} to {maximum}, or null"),
    "config.bad_number": ("{field}：{value} 无效，必须是 {minimum} 到 {maximum} 之间的数字（秒）",
                          "{field}: {value} is invalid; must be a number from {minimum} to {maximum} (seconds)"),
    "config.bad_address": ("{field}：{detail}", "{field}: {detail}"),
    "config.bad_list": (
        "{field}：必须是 \"host:port\" 字符串组成的非空列表，或 null（使用内置列表）",
        "{field}: must be a non-empty list of \"host:port\" strings, or null (built-in list)",
    ),
    "config.bad_on_change": (
        "on_change：无法拆分成命令和参数（{error}），请检查引号是否成对",
        "on_change: cannot be split into a command and arguments ({error}); check that quotes are paired",
    ),
    "config.proxy_udp": (
        "proxy_protocol：仅适用于 TCP 类型，type 为 {type} 时请设为 null",
        "proxy_protocol: only for TCP types; set it to null for type {type}",
    ),
    "config.proxy_ignored": (
        "proxy_protocol 仅在转发模式（设置了 remote）下生效，当前已忽略",
        "proxy_protocol only applies in forward mode (remote set); ignored",
    ),
    "config.world_readable": (
        "配置文件 {path} 含有密钥，但其他用户可读；建议执行 chmod 600 {path}",
        "config file {path} holds a secret but other users can read it; consider chmod 600 {path}",
    ),
    "config.exists": ("配置文件 {path} 已存在，不会覆盖。", "config file {path} already exists; not overwritten."),
    "config.no_parent": (
        "无法生成配置文件 {path}：所在目录不存在。",
        "cannot create config file {path}: its folder does not exist.",
    ),
    "config.ask_create": (
        "配置文件 {path} 不存在，是否生成新配置[y/N] ",
        "config file {path} does not exist. Create a new one? [y/N] ",
    ),
    "config.created": (
        "已生成默认配置 {path}（权限 0600）。请编辑其中的 type、dns、id、token、domain、sub_domain、"
        "local、remote 等字段后重新运行；各 DNS 供应商的示例见 config.<供应商>.json，说明见 README。",
        "created the default config {path} (mode 0600). Edit type, dns, id, token, domain, sub_domain, "
        "local and remote, then run again; see config.<provider>.json and README for examples.",
    ),
    "config.not_created": ("未生成配置文件，程序退出。", "no config file created; exiting."),
    "config.remote_unspecified": (
        "remote：{remote} 只能用于监听，不能作为转发目标；请写游戏服务器的实际地址，例如 127.0.0.1:25566",
        "remote: {remote} is a listening address, not a forward target; give the game server's real address, "
        "e.g. 127.0.0.1:25566",
    ),
    "config.remote_is_local": (
        "remote {remote} 就是本程序监听的 local {local}（同一台机器、同一端口），转发会连回自己形成自环；"
        "请把游戏服务器放在另一个端口，例如 -l :25565 -r :25566",
        "remote {remote} is this program's own listener local {local} (same host, same port): forwarding "
        "would loop back into itself; run the game server on another port, e.g. -l :25565 -r :25566",
    ),
    "config.no_local": (
        "未设置本地地址：请在配置文件中设置 local（例如 \":25565\"）或使用 -l 参数。",
        "no local address: set local in the config file (e.g. \":25565\") or pass -l.",
    ),
}
