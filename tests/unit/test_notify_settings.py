"""notify / notify_template (SPEC section 15): validation at load, secrets of a URL, the message."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError
from nat1_traversal.log import REDACTOR
from nat1_traversal.model import Endpoint, Mapping, Secret
from nat1_traversal.notify.notifier import NotifyContext, render, target_label
from nat1_traversal.notify.settings import notify_secrets, parse_notify_keys

TG = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456"
WECOM = "wecombot://a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Loading a URL registers its parts for redaction, process-wide: not for the next test."""
    yield
    REDACTOR.clear()


def mapping(ip: str = "203.0.113.7", port: int = 40123) -> Mapping:
    inner = Endpoint(ipaddress.ip_address("192.168.1.2"), 25565)
    return Mapping("tcp", inner, Endpoint(ipaddress.ip_address(ip), port))


def test_valid_urls_and_template_are_kept() -> None:
    keys = parse_notify_keys([TG, " " + WECOM + " "], "{name}: {address}")
    assert keys.problems == ()
    assert keys.urls == (Secret(TG), Secret(WECOM))
    assert keys.template == "{name}: {address}"


def test_absent_or_empty_means_off() -> None:
    values: tuple[object, ...] = (None, [])
    for value in values:
        keys = parse_notify_keys(value, None)
        assert keys.urls == () and keys.template is None and keys.problems == ()


def test_a_single_string_is_one_url() -> None:
    assert parse_notify_keys(WECOM, None).urls == (Secret(WECOM),)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"url": WECOM}, "notify："),
        (42, "notify："),
        ([WECOM, 7], "notify[1]"),
        ([WECOM, ""], "notify[1]"),
        (["bogus://SuperSecretValue42"], "notify[0]"),
        ([WECOM, "json://"], "notify[1]"),
        (["not a url at all SuperSecretValue42"], "notify[0]"),
    ],
)
def test_bad_notify_values_name_the_item(value: object, needle: str) -> None:
    keys = parse_notify_keys(value, None)
    assert len(keys.problems) == 1, keys.problems
    assert needle in keys.problems[0]
    assert "SuperSecretValue42" not in keys.problems[0]


def test_an_unparseable_url_is_a_config_error_with_exit_2() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"notify": [WECOM, "bogus://SuperSecretValue42"], "notify_template": "{nope}"})
    assert info.value.exit_code == 2
    text = "\n".join(info.value.problems)
    assert "notify[1]" in text and "bogus://" in text and "notify_template" in text and "nope" in text
    assert "SuperSecretValue42" not in info.value.render()


def test_parse_config_carries_the_keys() -> None:
    config, warnings = parse_config({"notify": [TG], "notify_template": "{fqdn} {port:d}"})
    assert warnings == []
    assert config.notify == (Secret(TG),) and config.notify_template == "{fqdn} {port:d}"
    assert TG not in repr(config)


@pytest.mark.parametrize("template", ["{nope}", "{address", "{0}", "{port:x", "{ip.nothing}", 5])
def test_bad_templates(template: object) -> None:
    keys = parse_notify_keys(None, template)
    assert len(keys.problems) == 1 and "notify_template" in keys.problems[0]
    assert keys.template is None


def test_every_spec_field_is_allowed() -> None:
    template = "{name} {type} {ip} {port} {address} {domain} {fqdn} {{literal}}"
    assert parse_notify_keys(None, template).problems == ()


@pytest.mark.parametrize(
    ("url", "secret", "visible"),
    [
        (TG, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", None),
        (WECOM, "a1b2c3d4-e5f6-7a8b-9c0d-e1f2a3b4c5d6", None),
        ("dingtalk://0123456789abcdef0123/?secret=SECabcdef123", "SECabcdef123", None),
        ("dingtalk://0123456789abcdef0123/?secret=SECabcdef123", "0123456789abcdef0123", None),
        ("bark://api.day.app/Xk3pDeviceKey9", "Xk3pDeviceKey9", "api.day.app"),
        ("schan://SCT123456TxyzABC", "SCT123456TxyzABC", None),
        ("json://user:p%40ss-word@127.0.0.1:8080/hook?+X-Token=HeaderValue1", "p@ss-word", "127.0.0.1"),
        ("json://user:p%40ss-word@127.0.0.1:8080/hook?+X-Token=HeaderValue1", "HeaderValue1", "hook"),
        ("json://[::1]:8080/path", None, "::1"),
    ],
)
def test_notify_secrets(url: str, secret: str | None, visible: str | None) -> None:
    found = notify_secrets(url)
    assert url in found
    if secret is not None:
        assert secret in found
    if visible is not None:
        assert not any(visible == item or visible in item for item in found if item != url and "://" not in item)


def test_path_words_and_hosts_stay_visible() -> None:
    found = notify_secrets("json://hooks.example.net:8443/hooks/notify/T0ken9x8?method=POST")
    assert "T0ken9x8" in found
    assert not {"hooks", "notify", "hooks.example.net", "POST"} & set(found)


def test_apprise_options_are_not_secrets() -> None:
    found = notify_secrets("wecombot://a1b2c3d4e5f6/?format=markdown&overflow=split")
    assert "markdown" not in found and "split" not in found


def test_default_message_has_address_and_domain() -> None:
    context = NotifyContext("java", "mcje", "example.com", "mc.example.com")
    title, body = render(None, context, mapping())
    assert "203.0.113.7:40123" in body and "mc.example.com" in body and "java" in body
    assert "java" in title
    _, bare = render(None, NotifyContext("java", "mcje"), mapping())
    assert "203.0.113.7:40123" in bare and "域名" not in bare


def test_template_is_filled() -> None:
    context = NotifyContext("be", "mcbe", "example.com", "mc.example.com")
    _, body = render("{name}|{type}|{ip}|{port}|{address}|{domain}|{fqdn}|{port:06d}", context,
                     mapping("2001:db8::1", 19132))
    assert body == "be|mcbe|2001:db8::1|19132|[2001:db8::1]:19132|example.com|mc.example.com|019132"


def test_target_label_shows_only_the_scheme() -> None:
    assert target_label(2, Secret(TG)) == "notify[2] (tgram)"
    assert target_label(0, Secret("SuperSecretValue42")) == "notify[0] (?)"
