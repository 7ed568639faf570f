"""The config written by "是否生成新配置": it names the second-floor keys users most need, each at its
default, and the written file loads with no warning."""

from __future__ import annotations

import json
from pathlib import Path

from nat1_traversal.config import DEFAULT_CONFIG_TEXT, Config
from nat1_traversal.config_load import load_config, parse_config, write_default_config

# What the template sets on purpose instead of the bare default (a ready example).
EXAMPLE_VALUES = {"domain", "sub_domain", "local"}


def test_the_template_lists_status_upnp_reach_check_and_notify() -> None:
    data = json.loads(DEFAULT_CONFIG_TEXT)
    for key in ("status", "upnp", "reach_check", "notify"):
        assert key in data, key


def test_every_key_of_the_template_holds_its_default() -> None:
    data = json.loads(DEFAULT_CONFIG_TEXT)
    for key, value in data.items():
        if key in EXAMPLE_VALUES:
            continue
        config, warnings = parse_config({key: value})
        assert (config, warnings) == (Config(), []), key


def test_the_written_file_loads_without_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_default_config(path)
    config, warnings = load_config(path)
    assert warnings == []
    assert config.status == Config().status and config.upnp == "auto"
    assert config.reach_check is None and config.notify == ()
