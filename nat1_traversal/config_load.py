"""Read and validate config.json (SPEC section 3); report every problem at once.

The file is only ever read here. It is written once, on request, when it does not
exist (``write_default_config``), atomically and never over an existing file.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import logging
import math
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from nat1_traversal.addr import AddressError, parse_host_port, parse_local, parse_remote
from nat1_traversal.command import split_command
from nat1_traversal.config import (
    DEFAULT_CONFIG_TEXT,
    KNOWN_KEYS,
    NUMBER_CAP,
    NUMBER_RANGES,
    TSIG_ALGORITHMS,
    Config,
    DnsSettings,
    ProxyProtocol,
    ServiceType,
)
from nat1_traversal.dns import provider_kinds
from nat1_traversal.errors import ConfigError
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint, HostPort, IPAddress, Secret
from nat1_traversal.servers import DEFAULT_KEEPALIVE_TCP, DEFAULT_STUN_TCP, DEFAULT_STUN_UDP, STUN_PORT

log = logging.getLogger(__name__)

SERVICE_TYPES: tuple[str, ...] = get_args(ServiceType)
PROXY_PROTOCOLS: tuple[str, ...] = get_args(ProxyProtocol)


def decode_config_bytes(raw: bytes) -> str:
    """UTF-8 with or without BOM, else GBK (what Notepad on Chinese Windows saves)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gbk")  # may raise; the caller reports it


def show_value(value: object, limit: int = 60) -> str:
    """A config value as JSON for a message: short, and never an error of its own."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_path(path: Path | str, limit: int = 120) -> str:
    """A path for a message: a 5,000-character ``-c`` argument is cut in the middle."""
    text = str(path)
    return text if len(text) <= limit else text[: limit // 2] + "…" + text[-(limit // 3) :]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Checker:
    """Collects problems field by field so that all of them are reported together."""

    def __init__(self, data: dict[str, Any], field_path: Callable[[str], str] | None = None) -> None:
        self.data = data
        self.problems: list[str] = []
        self.field_path = field_path  # services (SPEC section 11): "local" -> "services[1].local"

    def problem(self, key: str, **fields: object) -> None:
        if self.field_path is not None and "field" in fields:
            fields["field"] = self.field_path(str(fields["field"]))
        self.problems.append(t(key, **fields))

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value is None:
            return default
        if not isinstance(value, str) or value not in allowed:
            self.problem("config.bad_choice", field=name, value=show_value(value), allowed=", ".join(allowed))
            return default
        return value

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem("config.not_text", field=name)
            return None
        value = value.strip()
        return value or None

    def number(self, name: str, *, default: float | None, minimum: float, integer: bool,
               maximum: float | None = None) -> float | None:
        """A finite number in ``NUMBER_RANGES[name]`` (``minimum``/``maximum`` when not listed)."""
        value = self.data.get(name, default)
        if value is None:
            return default
        low, high = NUMBER_RANGES.get(name, (minimum, maximum if maximum is not None else NUMBER_CAP))
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not math.isfinite(value) or not low <= value <= high:
            key = "config.bad_int" if integer else "config.bad_number"
            self.problem(key, field=name, value=show_value(value), minimum=_num(low), maximum=_num(high))
            return default
        return float(value)

    def endpoint(self, name: str, parse: Callable[[str], Endpoint]) -> Endpoint | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse(value)
        except AddressError as exc:
            self.problem("config.bad_address", field=name, detail=t(exc.key, text=exc.text))
            return None

    def host_list(self, name: str, default_port: int) -> tuple[HostPort, ...] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem("config.bad_list", field=name)
            return None
        result: list[HostPort] = []
        for item in value:
            if not isinstance(item, str):
                self.problem("config.bad_list", field=name)
                return None
            try:
                result.append(parse_host_port(item, default_port))
            except AddressError as exc:
                self.problem("config.bad_address", field=name, detail=t(exc.key, text=exc.text))
        return tuple(result)


def parse_config(data: object, *, source: str = "config.json",
                 field_path: Callable[[str], str] | None = None) -> tuple[Config, list[str]]:
    """Validate parsed JSON. Returns the config and the warnings; raises ConfigError.

    One service; ``nat1_traversal.service_config`` merges a ``services`` list into such
    dicts and names the fields it got from a service with ``field_path``.
    """
    if not isinstance(data, dict):
        raise ConfigError("config.invalid", problems=[t("config.not_object")], path=source)
    check = _Checker(data, field_path)
    path_of = field_path or str
    warnings = [t("config.unknown_key", key=path_of(key)) for key in data if key not in KNOWN_KEYS]

    service_type = check.choice("type", SERVICE_TYPES, "mcje")
    dns_kind = check.choice("dns", provider_kinds(), "no_dns")
    token_text = check.text("token")
    ttl = check.number("ttl", default=None, minimum=1, integer=True)
    interval = check.number("keepalive_interval", default=10.0, minimum=1, integer=False)
    max_connections = check.number("max_connections", default=None, minimum=1, integer=True)
    idle_timeout = check.number("idle_timeout", default=None, minimum=1, integer=False)
    per_source = check.number("max_connections_per_source", default=None, minimum=1, integer=True)
    proxy = data.get("proxy_protocol")
    if proxy is not None and proxy not in PROXY_PROTOCOLS:
        check.problem("config.bad_choice", field="proxy_protocol", value=show_value(proxy),
                      allowed="null, " + ", ".join(PROXY_PROTOCOLS))
        proxy = None
    algorithm = (check.text("tsig_algorithm") or "hmac-sha256").lower().rstrip(".")
    # For dns rfc2136 the provider check reports it (with the other TSIG fields).
    if algorithm not in TSIG_ALGORITHMS and dns_kind != "rfc2136":
        check.problem("config.bad_choice", field="tsig_algorithm", value=algorithm,
                      allowed=", ".join(TSIG_ALGORITHMS))
    on_change = check.text("on_change")
    if on_change is not None:
        try:
            split_command(on_change)  # run without a shell: the split must work
        except ValueError as exc:
            check.problem("config.bad_on_change", error=str(exc))

    dns = DnsSettings(
        kind=dns_kind,
        id=check.text("id"),
        token=Secret(token_text) if token_text else None,
        domain=(check.text("domain") or "").strip(".").lower() or None,
        sub_domain=(check.text("sub_domain") or "").strip(".").lower() or None,
        ttl=int(ttl) if ttl is not None else None,
        endpoint=check.text("endpoint"),
        tsig_algorithm=algorithm,
    )
    config = Config(
        type=service_type,  # type: ignore[arg-type]  # checked against SERVICE_TYPES above
        dns=dns,
        local=check.endpoint("local", parse_local),
        remote=check.endpoint("remote", parse_remote),
        proxy_protocol=proxy,
        stun_tcp=check.host_list("stun_tcp", STUN_PORT) or DEFAULT_STUN_TCP,
        stun_udp=check.host_list("stun_udp", STUN_PORT) or DEFAULT_STUN_UDP,
        keepalive_tcp=check.host_list("keepalive_tcp", 80) or DEFAULT_KEEPALIVE_TCP,
        keepalive_interval=interval if interval is not None else 10.0,
        on_change=on_change,
        max_connections=int(max_connections) if max_connections is not None else None,
        idle_timeout=idle_timeout,
        max_connections_per_source=int(per_source) if per_source is not None else None,
    )
    if proxy is not None and config.proto == "udp":
        check.problem("config.proxy_udp", type=service_type)
    if dns_kind != "no_dns":
        check.problems.extend(_dns_problems(dns))
    config = _with_status_keys(config, data, check, warnings)
    config = _with_upnp_keys(config, data, check)
    config = _with_section15_keys(config, data, check)
    config = _with_reach_keys(config, data, check)
    if check.problems:
        raise ConfigError("config.invalid", problems=check.problems, path=source)
    return config, warnings


def _with_upnp_keys(config: Config, data: dict[str, Any], check: _Checker) -> Config:
    from nat1_traversal.portmap.settings import parse_upnp_keys

    keys = parse_upnp_keys(data.get("upnp", "auto"), data.get("upnp_gateway"))
    check.problems.extend(keys.problems)
    return replace(config, upnp=keys.mode, upnp_gateway=keys.gateway)


def _with_status_keys(config: Config, data: dict[str, Any], check: _Checker, warnings: list[str]) -> Config:
    from nat1_traversal.status.settings import parse_status_keys

    keys = parse_status_keys(data.get("status"), data.get("status_token"))
    check.problems.extend(keys.problems)
    warnings.extend(keys.warnings)
    return replace(config, status=keys.address, status_token=keys.token)


def _with_section15_keys(config: Config, data: dict[str, Any], check: _Checker) -> Config:
    from nat1_traversal.notify.settings import parse_notify_keys

    keys = parse_notify_keys(data.get("notify"), data.get("notify_template"))
    check.problems.extend(keys.problems)
    from nat1_traversal.resolver_settings import SYSTEM, resolver_problem

    resolver = data.get("resolver")
    problem = resolver_problem(resolver)
    if problem is not None:
        check.problems.append(problem)
    chosen = resolver.strip() if isinstance(resolver, str) and problem is None else SYSTEM
    from nat1_traversal.dns import providers

    spec = providers().get(config.dns.kind)
    if spec is not None and spec.types is not None and config.type not in spec.types:
        check.problem("cdn.bad_type", provider=config.dns.kind, type=config.type)
    return replace(config, notify=keys.urls, notify_template=keys.template, resolver=chosen)


def topology_problems(config: Config) -> list[str]:
    """Forward targets that cannot work: ``0.0.0.0``/``::``, or our own listener (a self-loop).

    Checked on the final config (after ``-l``/``-r``). The listener at ``local`` takes
    ``remote`` when the ports match and ``local`` is that very address, or is ``0.0.0.0``
    (every IPv4 address of this host) or ``[::]`` (every address: dual stack).
    """
    local, remote = config.local, config.remote
    if remote is None:
        return []
    target = _unmapped(remote.ip)
    if target.is_unspecified:
        return [t("config.remote_unspecified", remote=str(remote))]
    if local is None or local.port != remote.port:
        return []
    listen = _unmapped(local.ip)
    if listen == target or (listen.is_unspecified and (listen.version == 6 or target.version == 4)
                            and is_own_address(target)):
        return [t("config.remote_is_local", remote=str(remote), local=str(local))]
    return []


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_own_address(ip: IPAddress) -> bool:
    """Whether ``ip`` belongs to this host: loopback, or it can be bound (no packet is sent)."""
    if ip.is_loopback:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True


def _with_reach_keys(config: Config, data: dict[str, Any], check: _Checker) -> Config:
    from nat1_traversal.reach.settings import parse_reach_keys

    keys = parse_reach_keys(data.get("reach_check"), data.get("reach_interval"))
    check.problems.extend(keys.problems)
    return replace(config, reach_check=keys.templates, reach_interval=keys.interval, reach=keys.enabled)


def _dns_problems(dns: DnsSettings) -> list[str]:
    """Provider-specific checks live with the providers (no SDK is imported)."""
    from nat1_traversal.dns import validate_settings

    return validate_settings(dns)


MAX_CONFIG_BYTES = 1 << 20  # 1 MiB: a config is a few hundred bytes
MAX_DEPTH = 32  # a config is one flat object with a few short lists
MAX_INT_DIGITS = 100  # no number in a config needs more


class _JsonLimit(Exception):
    """A JSON document over one of the limits above (``key`` names the message)."""

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(key, limit)
        self.key = key
        self.limit = limit


def config_exists(path: Path) -> bool:
    """Whether something is at ``path``; a path that cannot even be looked at is an error."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise _os_error(path, exc) from None
    except ValueError:  # an embedded NUL byte
        raise ConfigError("config.unreadable", path=shown_path(path), error="NUL") from None
    return True


def _os_error(path: Path, exc: OSError) -> ConfigError:
    if exc.errno == errno.ENAMETOOLONG:
        return ConfigError("config.path_too_long", length=len(str(path)))
    return ConfigError("config.unreadable", path=shown_path(path), error=exc.strerror or str(exc))


def read_config_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_CONFIG_BYTES``; ConfigError otherwise.

    Checked before opening (a FIFO would block the open, a device may act on it) and
    again on the open descriptor, which is opened non-blocking and read with a cap.
    """
    shown = shown_path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ConfigError("config.not_regular", path=shown)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError("config.missing", path=shown) from None
    except OSError as exc:
        raise _os_error(path, exc) from exc
    except ValueError:
        raise ConfigError("config.unreadable", path=shown, error="NUL") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("config.not_regular", path=shown)
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError("config.too_big", path=shown, limit=MAX_CONFIG_BYTES)
        try:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise _os_error(path, exc) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("config.too_big", path=shown, limit=MAX_CONFIG_BYTES)
    return raw


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonLimit("config.number_too_long", MAX_INT_DIGITS)
    return int(text)


def _depth(data: object) -> int:
    """Nesting depth, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(value, dict):
            stack.extend((item, level + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, level + 1) for item in value)
    return deepest


def decode_config_json(text: str, path: Path) -> object:
    """``json.loads`` with limits: huge integers and deep nesting are config errors."""
    shown = shown_path(path)
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ConfigError("config.bad_json", path=shown, line=exc.lineno, column=exc.colno,
                          error=exc.msg) from None
    except _JsonLimit as exc:
        raise ConfigError(exc.key, path=shown, limit=exc.limit) from None
    except RecursionError:
        raise ConfigError("config.too_deep", path=shown, limit=MAX_DEPTH) from None
    if _depth(data) > MAX_DEPTH:
        raise ConfigError("config.too_deep", path=shown, limit=MAX_DEPTH)
    return data


def load_config(path: Path, *, parse: Callable[..., tuple[Config, list[str]]] = parse_config,
                ) -> tuple[Config, list[str]]:
    """Read ``path`` and validate it (with ``parse``). Raises ConfigError for every kind of problem."""
    raw = read_config_bytes(path)
    try:
        text = decode_config_bytes(raw)
    except UnicodeDecodeError:
        raise ConfigError("config.bad_encoding", path=shown_path(path)) from None
    data = decode_config_json(text, path)
    config, warnings = parse(data, source=shown_path(path))
    secret = any(c.dns.token is not None or c.notify for c in config.all_services)
    if secret and _readable_by_others(path):
        warnings.append(t("config.world_readable", path=shown_path(path)))
    return config, warnings


def _readable_by_others(path: Path) -> bool:
    if sys.platform == "win32":
        return False
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def write_default_config(path: Path) -> None:
    """Create ``path`` with the default config, mode 0600, never replacing a file.

    Written to a temporary file in the same folder first and then linked into
    place, so the target is either absent or complete, and an existing file
    (even one created meanwhile) is never touched.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError("config.no_parent", path=str(path))
    fd, tmp_name = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(DEFAULT_CONFIG_TEXT)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            raise ConfigError("config.exists", path=str(path)) from None
        except OSError:  # file systems without hard links: exclusive create instead
            _exclusive_copy(tmp_name, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def _exclusive_copy(source: str, path: Path) -> None:
    data = Path(source).read_bytes()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError("config.exists", path=str(path)) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
