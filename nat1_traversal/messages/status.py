"""Messages of the status server, its page and ``--status``: key -> (zh, en). Keys start with "status."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # config
    "status.config_bad": (
        "status：{value} 无效，必须是 \"ip:端口\" 字符串（如 \"127.0.0.1:8730\"），或 false 关闭状态服务",
        "status: {value} is invalid; must be an \"ip:port\" string (e.g. \"127.0.0.1:8730\"), or false to turn it off",
    ),
    "status.token_required": (
        "status：{address} 不是本机回环地址，局域网/公网上的任何人都能访问状态页；请同时设置 status_token（至少 16 个字符的随机字符串），或改用 127.0.0.1",
        "status: {address} is not a loopback address, so anyone on the network could read the status; "
        "set status_token too (a random string of at least 16 characters), or use 127.0.0.1",
    ),
    "status.token_short": (
        "status_token：太短，容易被猜中；建议至少 {minimum} 个字符（例如 openssl rand -hex 16 生成的字符串）",
        "status_token: short enough to be guessed; use at least {minimum} characters (e.g. openssl rand -hex 16)",
    ),
    # server
    "status.listening": ("状态页已启动：http://{address}/", "Status page started: http://{address}/"),
    "status.port_taken": (
        "无法启动状态页（{address}）：{error}。程序继续运行，但没有状态页；可在配置中修改 status 或设为 false",
        "Cannot start the status page ({address}): {error}. Carrying on without it; change status in the config "
        "or set it to false",
    ),
    # --status
    "status.off": (
        "配置文件中 status 为 false，状态服务已关闭，无法查询",
        "status is false in the config file: the status server is off, nothing to ask",
    ),
    "status.no_answer": (
        "无法连接到运行中的 nat1_traversal（{url}）：{error}。程序是否在运行？status 地址是否与配置一致？",
        "Cannot reach the running nat1_traversal ({url}): {error}. Is it running, with this status address?",
    ),
    "status.unauthorized": (
        "状态服务拒绝了请求（401）：配置中的 status_token 与运行中的程序不一致",
        "The status server refused the request (401): status_token differs from the running process's",
    ),
    "status.bad_answer": (
        "{url} 的回答不是 nat1_traversal 的状态（{error}）",
        "The answer from {url} is not a nat1_traversal status ({error})",
    ),
    "status.no_services": ("运行中的程序没有任何服务", "The running process has no services"),
    "status.line": (
        "{name}  {state}  映射 {mapping}  域名 {dns}  {reachable}",
        "{name}  {state}  mapping {mapping}  DNS {dns}  {reachable}",
    ),
    "status.header": (
        "nat1_traversal {version}，启动于 {started}",
        "nat1_traversal {version}, started {started}",
    ),
    # words shared by the page and --status
    "status.state.starting": ("启动中", "starting"),
    "status.state.mapped": ("已映射", "mapped"),
    "status.state.retrying": ("重试中", "retrying"),
    "status.state.failed": ("已失败", "failed"),
    "status.reach.true": ("公网可达", "reachable"),
    "status.reach.false": ("公网不可达", "unreachable"),
    "status.reach.none": ("可达性未知", "reachability unknown"),
    "status.dns.ok": ("已发布", "published"),
    "status.dns.pending": ("发布中", "publishing"),
    "status.dns.failing": ("发布失败", "failing"),
    "status.dns.off": ("未启用", "off"),
    "status.none": ("无", "none"),
    # the page
    "status.page.title": ("nat1_traversal 状态", "nat1_traversal status"),
    "status.page.version": ("版本 {version}", "version {version}"),
    "status.page.started": ("启动于", "started"),
    "status.page.updated": ("更新于", "updated"),
    "status.page.offline": ("无法连接到程序（已停止？）", "cannot reach the process (stopped?)"),
    "status.page.footer": (
        "本页每 5 秒自动刷新；不开启 JavaScript 时请手动刷新。时间为本机时间。",
        "This page refreshes every 5 s; without JavaScript, reload it by hand. Times are local.",
    ),
    "status.page.mapping": ("映射地址", "mapping"),
    "status.page.copy": ("复制", "copy"),
    "status.page.copied": ("已复制", "copied"),
    "status.page.copy_failed": ("复制失败，请手动选择", "copy failed, select it by hand"),
    "status.page.dns": ("域名", "DNS name"),
    "status.page.since": ("映射开始于", "since"),
    "status.page.remaps": ("映射变化次数", "remaps"),
    "status.page.reachable": ("公网可达性", "reachability"),
    "status.page.last_publish": ("最近发布成功", "last publish"),
    "status.page.local": ("本地", "local"),
    "status.page.mode_shared": ("共享端口模式", "shared-port mode"),
    "status.page.mode_forward": ("转发模式", "forward mode"),
    "status.page.segment": ("{mapping}，自 {since} 起", "{mapping}, from {since}"),
    "status.page.timeline": ("24 小时内映射变化 {count} 次", "{count} remap(s) in 24 h"),
    "status.page.ago_24h": ("24 小时前", "24 h ago"),
    "status.page.now": ("现在", "now"),
}
