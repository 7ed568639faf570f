"""The status / status_token config keys (SPEC section 12)."""

from __future__ import annotations

import pytest

from nat1_traversal.config import DEFAULT_STATUS
from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError

TOKEN = "0123456789abcdef0123"


def test_default_is_loopback_8730() -> None:
    config, _ = parse_config({})
    assert str(config.status) == "127.0.0.1:8730"
    assert config.status == DEFAULT_STATUS
    assert config.status_token is None


def test_false_turns_it_off_and_null_or_true_is_the_default() -> None:
    assert parse_config({"status": False})[0].status is None
    assert parse_config({"status": None})[0].status == DEFAULT_STATUS
    assert parse_config({"status": True})[0].status == DEFAULT_STATUS


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9000", "127.0.0.1:9000"),
    (":9000", "127.0.0.1:9000"),
    ("9000", "127.0.0.1:9000"),
    ("[::1]:9000", "[::1]:9000"),
    ("127.0.0.2", "127.0.0.2:8730"),
])
def test_address_grammar_with_status_defaults(text: str, expected: str) -> None:
    assert str(parse_config({"status": text})[0].status) == expected


def test_not_loopback_without_token_is_a_config_error_in_chinese() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"status": "0.0.0.0:8730"})
    assert caught.value.exit_code == 2
    assert any("status_token" in p and "0.0.0.0:8730" in p and "回环" in p for p in caught.value.problems)


def test_not_loopback_with_token_is_fine_and_the_token_is_a_secret() -> None:
    config, warnings = parse_config({"status": "0.0.0.0:8730", "status_token": TOKEN})
    assert config.status_token is not None and config.status_token.reveal() == TOKEN
    assert TOKEN not in repr(config)
    assert warnings == []


def test_short_token_is_only_a_warning() -> None:
    config, warnings = parse_config({"status": "0.0.0.0:8730", "status_token": "short"})
    assert config.status_token is not None
    assert any("status_token" in w for w in warnings)


def test_bad_values_are_reported_with_the_other_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"status": 8730, "status_token": 5, "type": "nope"})
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("status：") for p in problems)
    assert any(p.startswith("status_token") for p in problems)
    with pytest.raises(ConfigError) as caught:
        parse_config({"status": "1.2.3.4:99999"})
    assert any(p.startswith("status：") for p in caught.value.problems)


def test_keys_are_known() -> None:
    _, warnings = parse_config({"status": False, "status_token": TOKEN})
    assert warnings == []
