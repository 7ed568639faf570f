"""The message catalogue: complete in both languages, consistent, and every key used exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from nat1_traversal import i18n
from nat1_traversal.messages import CATALOGUE

PACKAGE = Path(__file__).resolve().parents[2] / "nat1_traversal"
# t("area.key" ...) / Error("area.key" ...) / hint="area.key" literals in the source
KEY_USE = re.compile(
    r"""(?:\bt\(|Error\(|Unavailable\(|NotFound\(|Limited\(|Timeout\(|Response\(|hint=)"""
    r"""\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']"""
)


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_both_languages_present_and_consistent(key: str) -> None:
    zh, en = CATALOGUE[key]
    assert zh.strip() and en.strip()
    assert fields(zh) == fields(en), key
    bare = re.sub(r"\{[^}]*\}", "", zh)
    assert re.search(r"[\u4e00-\u9fff]", bare) or not re.search(r"[a-z]{4,}", bare.lower()) \
        or key.endswith("version"), f"{key}: the Chinese text has no Chinese"


def test_keys_are_namespaced_by_area() -> None:
    areas = {
        "cli", "config", "stun", "keeper", "forward", "dns", "mc", "portmap", "status", "notify", "resolver", "reach",
        "cdn", "services",
    }
    assert {key.split(".", 1)[0] for key in CATALOGUE} <= areas


def test_every_key_used_in_code_exists() -> None:
    missing: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        if "messages" in path.parts:
            continue
        for key in KEY_USE.findall(path.read_text(encoding="utf-8")):
            if key not in CATALOGUE:
                missing.append(f"{path.name}: {key}")
    assert missing == []


def test_language_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert i18n.t("cli.interrupted") == "已中断。"
    monkeypatch.setenv("NAT1_LANG", "en_US.UTF-8")
    assert i18n.t("cli.interrupted") == "interrupted."
    i18n.set_language("zh")
    assert i18n.t("cli.interrupted") == "已中断。"


def test_unknown_key_and_bad_fields_do_not_crash() -> None:
    assert i18n.t("no.such.key") == "no.such.key"
    assert i18n.t("cli.bad_args") == CATALOGUE["cli.bad_args"][0]
