"""SPEC section 11: a ``services`` list in config.json, merged with the top-level defaults.

Every key of a service may stand at the top level (the default for every service)
or inside a service (it wins); ``status``, ``status_token``, ``resolver`` and
``services`` are top-level only. Each service is the top-level dict updated with
its own keys and checked by ``config_load.parse_config``, which names a field the
service set itself by its path (``services[1].local``). A problem every service
shares came from the defaults and is reported once, without a path; every other
one names its service. Every problem of the file is reported at once (exit 2).

A file without ``services`` is one service, exactly as before (``name`` may name it).
The result is one ``Config``: the first service, with ``services`` holding them all.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from typing import Any

from nat1_traversal.addr import AddressError, parse_local
from nat1_traversal.config import SERVICE_PROTO, Config
from nat1_traversal.config_load import parse_config, show_value
from nat1_traversal.errors import ConfigError
from nat1_traversal.i18n import t
from nat1_traversal.model import Endpoint

TOP_LEVEL_ONLY: tuple[str, ...] = ("status", "status_token", "resolver", "services")
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def parse_file(data: object, *, source: str = "config.json") -> tuple[Config, list[str]]:
    """Validate a whole config.json (with or without ``services``); raises ConfigError."""
    if not isinstance(data, dict) or "services" not in data:
        problems: list[str] = []
        name = _name(data.get("name"), "name", problems) if isinstance(data, dict) else None
        try:
            config, warnings = parse_config(data, source=source)
        except ConfigError as exc:
            raise ConfigError("config.invalid", problems=[*exc.problems, *problems], path=source) from None
        if problems:
            raise ConfigError("config.invalid", problems=problems, path=source)
        return replace(config, name=name), warnings
    return _parse_services(data, source)


class _Problems:
    """An ordered list without repeats."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


def _parse_services(data: dict[str, Any], source: str) -> tuple[Config, list[str]]:
    items = data["services"]
    defaults = {key: value for key, value in data.items() if key != "services"}
    problems = _Problems()
    if not isinstance(items, list) or not items:
        problems.add(t("services.not_list"))
        for text in _problems_of(defaults, source):
            problems.add(text)
        raise ConfigError("config.invalid", problems=problems.items, path=source)

    warnings: list[str] = []
    parsed: list[Config] = []
    seen: list[tuple[int, dict[str, Any], dict[str, Any], str | None]] = []  # for _check_unique
    # per service: its path, the problems already worded with it, and those parse_config found
    entries: list[tuple[str, list[str], list[str]]] = []
    for index, item in enumerate(items):
        path = f"services[{index}]"
        if not isinstance(item, dict):
            entries.append((path, [t("services.not_object", path=path)], []))
            continue
        ready = [t("services.top_level_only", path=f"{path}.{key}", key=key) for key in TOP_LEVEL_ONLY if key in item]
        own = {key: value for key, value in item.items() if key not in TOP_LEVEL_ONLY}

        def field_path(key: str, own: dict[str, Any] = own, path: str = path) -> str:
            return f"{path}.{key}" if key in own else key

        merged = {**defaults, **own}
        found: list[str] = []
        name = _name(merged.get("name"), field_path("name"), found)
        seen.append((index, merged, own, name))
        try:
            config, own_warnings = parse_config(merged, source=source, field_path=field_path)
        except ConfigError as exc:
            found[:0] = exc.problems
        else:
            warnings.extend(w for w in own_warnings if w not in warnings)
            if not found and not ready:
                parsed.append(replace(config, name=name))
        entries.append((path, ready, found))

    # A problem of every service that the defaults alone have too came from the defaults.
    top = set(_problems_of(defaults, source))
    counts = Counter(text for _path, _ready, found in entries for text in set(found))
    checked = len(seen)  # the services that are objects
    for path, ready, found in entries:
        for text in ready:
            problems.add(text)
        for text in found:
            if text.startswith(path + ".") or (text in top and counts[text] == checked):
                problems.add(text)
            else:
                problems.add(t("services.in_service", path=path, problem=text))
    _check_unique(seen, problems)
    if problems.items:
        raise ConfigError("config.invalid", problems=problems.items, path=source)
    services = tuple(parsed)
    return replace(services[0], services=services), warnings


def _check_unique(seen: list[tuple[int, dict[str, Any], dict[str, Any], str | None]], problems: _Problems) -> None:
    """Names unique; no two services on the same protocol's local port (read from the raw
    values, so that these are reported together with the problems of the services)."""
    names: dict[str, int] = {}
    ports: dict[tuple[str, int], tuple[int, str]] = {}
    for index, merged, own, explicit in seen:
        kind = merged.get("type") or "mcje"
        if not isinstance(kind, str) or kind not in SERVICE_PROTO:
            continue
        local = _local(merged.get("local"))
        name = explicit or f"{kind}-{local.port if local is not None else 0}"
        where = f"services[{index}]"
        if name in names:
            problems.add(t("services.duplicate_name", path=f"{where}.name" if "name" in own else where,
                           name=name, other=f"services[{names[name]}]"))
        else:
            names[name] = index
        if local is None:
            continue
        key = (SERVICE_PROTO[kind], local.port)
        if key in ports:
            other, other_name = ports[key]
            problems.add(t("services.duplicate_port", path=f"{where}.local" if "local" in own else where,
                           proto=key[0].upper(), port=local.port, other=f"services[{other}]", name=other_name))
        else:
            ports[key] = (index, name)


def _local(value: object) -> Endpoint | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_local(value.strip())
    except AddressError:
        return None


def _problems_of(data: dict[str, Any], source: str) -> list[str]:
    try:
        parse_config(data, source=source)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _name(value: object, path: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not NAME.fullmatch(value):
        problems.append(t("services.bad_name", path=path, value=show_value(value)))
        return None
    return value
