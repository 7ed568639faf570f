"""Messages of the command line: help, usage errors, address grammar: key -> (zh, en)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "cli.help": (
        """用法: nat1_traversal.pyz [-h] [-l [[ip]:[port]]] [-r [[ip]:[port]]] [-c <config.json>] [-d] [-v] [-t] [-q ...]

利用 FULL CONE（NAT1）宽带把本机端口映射到公网，并把映射地址发布到 DNS。

  -h, --help                            显示本帮助并退出
  -l, --local [[ip]:[port]]             本地监听地址，省略 ip 时为 0.0.0.0，省略 port 时为 25565
                                        覆盖配置文件中的 local
  -r, --remote [[ip]:[port]]            转发目标地址（启用转发模式），省略 ip 时为 127.0.0.1，
                                        省略 port 时为 25565；覆盖配置文件中的 remote
  -c, --config <file>                   配置文件，默认为当前目录下的 config.json
  -d, --debug                           调试模式（输出更详细的日志）
  -v, --version                         显示版本并退出
  -t, --nat-type-test                   NAT 类型测试（TCP 与 UDP，仅供参考）；配合 -l :端口 从指定端口测试
  -q, --query [<host>[:port]]           查询 MC 服务器状态，IPv6 优先（Java + 基岩版）
  -qj, --query-java [<host>[:port]]     查询 Java 版服务器，仅 IPv4，默认端口 25565
  -qj6, --query-java-v6 [<host>[:port]] 查询 Java 版服务器，仅 IPv6，默认端口 25565
  -qb, --query-bedrock [<host>[:port]]  查询基岩版服务器，仅 IPv4，默认端口 19132
  -qb6, --query-bedrock-v6 [<host>[:port]]
                                        查询基岩版服务器，仅 IPv6，默认端口 19133
      --status                          查询正在运行的本程序的状态（每个服务一行），读取 -c 配置中的 status 地址
      --lang zh|en                      界面语言（也可设置环境变量 NAT1_LANG=en）

地址写法：:、:25566、25566、1.2.3.4、1.2.3.4:、1.2.3.4:25566、[::1]:25566
退出码：0 成功，1 运行失败，2 参数或配置错误
示例：
  python3 nat1_traversal.pyz -l :25565 -r :25566   转发模式：公网玩家经 25565 转发到本机 25566
  python3 nat1_traversal.pyz -t                    测试 NAT 类型
  python3 nat1_traversal.pyz -q mc.example.com     查询服务器状态""",
        """usage: nat1_traversal.pyz [-h] [-l [[ip]:[port]]] [-r [[ip]:[port]]] [-c <config.json>] [-d] [-v] [-t] [-q ...]

Map a local port to the Internet through a FULL CONE (NAT1) line and publish the mapping in DNS.

  -h, --help                            show this help and exit
  -l, --local [[ip]:[port]]             local listen address; ip defaults to 0.0.0.0, port to 25565;
                                        overrides local in the config file
  -r, --remote [[ip]:[port]]            forward target (forward mode); ip defaults to 127.0.0.1,
                                        port to 25565; overrides remote in the config file
  -c, --config <file>                   config file, default ./config.json
  -d, --debug                           debug logging
  -v, --version                         show the version and exit
  -t, --nat-type-test                   NAT type test (TCP and UDP); with -l :PORT tests from that port
  -q, --query [<host>[:port]]           Minecraft status, IPv6 first (Java + Bedrock)
  -qj, --query-java [<host>[:port]]     Java only, IPv4, default port 25565
  -qj6, --query-java-v6 [<host>[:port]] Java only, IPv6, default port 25565
  -qb, --query-bedrock [<host>[:port]]  Bedrock only, IPv4, default port 19132
  -qb6, --query-bedrock-v6 [<host>[:port]]
                                        Bedrock only, IPv6, default port 19133
      --status                          ask the running process for its status (one line per service), at -c's status address
      --lang zh|en                      language (or set NAT1_LANG=en)

Addresses: :, :25566, 25566, 1.2.3.4, 1.2.3.4:, 1.2.3.4:25566, [::1]:25566
Exit codes: 0 success, 1 runtime failure, 2 bad usage or config
Examples:
  python3 nat1_traversal.pyz -l :25565 -r :25566   forward public port 25565 to local 25566
  python3 nat1_traversal.pyz -t                    test your NAT type
  python3 nat1_traversal.pyz -q mc.example.com     query a server's status""",
    ),
    "cli.usage_hint": ("使用 -h 查看帮助。", "see -h for help."),
    "cli.bad_args": ("参数错误：{detail}", "bad arguments: {detail}"),
    "cli.unrecognized": ("无法识别的参数：{args}", "unrecognized arguments: {args}"),
    "cli.needs_value": ("选项 {option} 需要一个值", "option {option} needs a value"),
    "cli.ambiguous": ("选项 {option} 有歧义", "option {option} is ambiguous"),
    "cli.invalid_choice": ("选项 {option} 的值无效：{value}", "invalid value for {option}: {value}"),
    "cli.conflict": (
        "{first} 与 {second} 不能同时使用",
        "{first} and {second} cannot be used together",
    ),
    "cli.bad_topology": ("{detail}", "{detail}"),
    "cli.bad_address": ("{option}：{detail}", "{option}: {detail}"),
    "cli.addr.bad_port": (
        "地址 \"{text}\" 中的端口无效（应为 1-65535）",
        "invalid port in address \"{text}\" (must be 1-65535)",
    ),
    "cli.addr.bad_ip": (
        "地址 \"{text}\" 中的 IP 无效（应为 IPv4 或 [IPv6] 字面量，例如 1.2.3.4:25565 或 [::1]:25565）",
        "invalid IP in address \"{text}\" (use an IPv4 or [IPv6] literal, e.g. 1.2.3.4:25565 or [::1]:25565)",
    ),
    "cli.addr.bad_brackets": (
        "地址 \"{text}\" 格式错误：IPv6 地址应写成 [::1]:25565",
        "malformed address \"{text}\": write IPv6 as [::1]:25565",
    ),
    "cli.addr.bad_host": ("地址 \"{text}\" 中的主机名无效", "invalid host name in \"{text}\""),
    "cli.interrupted": ("已中断。", "interrupted."),
    "cli.unexpected": (
        "发生意外错误：{error}。请使用 -d 重新运行并把日志反馈给开发者。",
        "unexpected error: {error}. Run again with -d and report the log.",
    ),
    "cli.debug_on": ("已开启调试日志（SIGUSR1）", "debug logging on (SIGUSR1)"),
    "cli.debug_off": ("已关闭调试日志（SIGUSR2）", "debug logging off (SIGUSR2)"),
    "cli.version": ("nat1_traversal {version}", "nat1_traversal {version}"),
}
