"""config.json: every field, every error message, encodings, unknown keys, file safety."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nat1_traversal import i18n
from nat1_traversal.config import DEFAULT_CONFIG_TEXT, KNOWN_KEYS, Config
from nat1_traversal.config_load import load_config, parse_config, write_default_config
from nat1_traversal.errors import ConfigError
from nat1_traversal.model import HostPort, Secret

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(ROOT.glob("config.*.json"))


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return list(info.value.problems)


def test_empty_object_gives_defaults() -> None:
    config, warnings = parse_config({})
    assert config == Config()
    assert warnings == []
    assert config.proto == "tcp" and config.srv_prefix == "_minecraft._tcp."


def test_default_config_text_is_valid_and_complete() -> None:
    data = json.loads(DEFAULT_CONFIG_TEXT)
    config, warnings = parse_config(data)
    assert warnings == []
    assert config.local is not None and config.local.port == 25565
    assert set(data) <= set(KNOWN_KEYS)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_load(path: Path) -> None:
    config, warnings = load_config(path)
    assert warnings == [] or all("chmod" in w for w in warnings)
    assert path.name == f"config.{config.dns.kind}.json"


def test_templates_cover_every_provider() -> None:
    names = {p.name for p in TEMPLATES}
    providers = ("cloudflare", "dynv6", "webhook", "tencentcloud", "alidns", "rfc2136", "edgeone", "edgeone_intl",
                 "aliesa")
    assert names == {f"config.{k}.json" for k in providers}


def test_all_fields_parsed() -> None:
    config, _ = parse_config({
        "type": "mcbe", "dns": "webhook", "id": "https://hook.example.com/x", "token": "s3cret-token",
        "domain": "Example.COM.", "sub_domain": "mc", "local": ":19132", "remote": "127.0.0.1:19133",
        "proxy_protocol": None, "ttl": 120, "endpoint": None, "stun_tcp": ["a.example:3478"],
        "stun_udp": "b.example", "keepalive_tcp": ["c.example"], "keepalive_interval": 5,
        "on_change": "/bin/true",
    })
    assert config.type == "mcbe" and config.proto == "udp"
    assert config.dns.domain == "example.com" and config.dns.fqdn == "mc.example.com"
    assert config.dns.token == Secret("s3cret-token")
    assert config.dns.ttl == 120
    assert str(config.local) == "0.0.0.0:19132" and str(config.remote) == "127.0.0.1:19133"
    assert config.stun_tcp == (HostPort("a.example", 3478),)
    assert config.stun_udp == (HostPort("b.example", 3478),)
    assert config.keepalive_tcp == (HostPort("c.example", 80),)
    assert config.keepalive_interval == 5
    assert config.on_change == "/bin/true"
    assert config.forward_mode


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"type": "java"}, "type", "mcje, mcbe, web, tcp, udp"),
        ({"type": 3}, "type", "mcje"),
        ({"dns": "godaddy"}, "dns", "cloudflare"),
        ({"local": "1.2.3:80"}, "local", "IP"),
        ({"local": ":70000"}, "local", "1-65535"),
        ({"remote": "[::1"}, "remote", "[::1]:25565"),
        ({"ttl": 0}, "ttl", "1"),
        ({"ttl": "60"}, "ttl", "整数"),
        ({"ttl": True}, "ttl", "整数"),
        ({"keepalive_interval": 0}, "keepalive_interval", "数字"),
        ({"keepalive_interval": "10"}, "keepalive_interval", "数字"),
        ({"proxy_protocol": "v3"}, "proxy_protocol", "v1, v2"),
        ({"type": "udp", "proxy_protocol": "v2"}, "proxy_protocol", "TCP"),
        ({"stun_udp": []}, "stun_udp", "列表"),
        ({"stun_tcp": [1]}, "stun_tcp", "列表"),
        ({"stun_tcp": ["a b"]}, "stun_tcp", "主机名"),
        ({"keepalive_tcp": {"x": 1}}, "keepalive_tcp", "列表"),
        ({"tsig_algorithm": "rot13"}, "tsig_algorithm", "hmac-sha256"),
        ({"on_change": 5}, "on_change", "字符串"),
        ({"on_change": "notify.sh 'unclosed"}, "on_change", "引号"),
        ({"id": ["x"]}, "id", "字符串"),
    ],
)
def test_each_field_error_names_field_and_allowed(data: dict[str, object], field: str, fragment: str) -> None:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(field), problems
    assert fragment in problems[0]


def test_all_problems_reported_together() -> None:
    problems = problems_of({"type": "java", "local": ":0", "ttl": -5})
    assert len(problems) == 3
    rendered = ConfigError("config.invalid", problems=problems, path="c.json").render()
    assert "3 处错误" in rendered and rendered.count("\n  - ") == 3


def test_dns_provider_fields_checked() -> None:
    problems = problems_of({"dns": "cloudflare", "domain": None, "sub_domain": None})
    assert any("token" in p for p in problems)
    assert any("domain" in p for p in problems)


def test_unknown_keys_warned_not_fatal() -> None:
    config, warnings = parse_config({"tpye": "mcbe", "dns": "no_dns"})
    assert config.type == "mcje"
    assert len(warnings) == 1 and "tpye" in warnings[0]


def test_not_an_object() -> None:
    assert problems_of([1, 2]) and problems_of("x")


def test_messages_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAT1_LANG", "en")
    i18n.set_language(None)
    problems = problems_of({"type": "java"})
    assert "unsupported value" in problems[0]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "gbk"],
)
def test_encodings(tmp_path: Path, encoding: str) -> None:
    text = json.dumps({"domain": "example.com", "sub_domain": "mc", "on_change": "echo 我的服务器"},
                      ensure_ascii=False)
    path = write(tmp_path / "c.json", text.encode(encoding))
    config, _ = load_config(path)
    assert config.on_change == "echo 我的服务器"


def test_bad_json_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", b'{\n  "type": "mcje",\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "config.bad_json"
    assert "第 3 行" in info.value.render()


def test_bad_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", b'{"domain": "\xff\xff\xff"}')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "config.bad_encoding"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.json")
    assert info.value.key == "config.missing" and info.value.exit_code == 2


def test_load_never_modifies_file(tmp_path: Path) -> None:
    raw = b'\xef\xbb\xbf{ "type" : "mcje" ,"unknown": 1 }'
    path = write(tmp_path / "c.json", raw)
    before = path.stat()
    load_config(path)
    assert path.read_bytes() == raw
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_world_readable_secret_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", json.dumps({"dns": "webhook", "id": "https://h.example/x",
                                                   "token": "abcd1234", "domain": "example.com",
                                                   "sub_domain": "mc"}).encode())
    os.chmod(path, 0o644)
    _, warnings = load_config(path)
    assert any("chmod 600" in w for w in warnings)
    os.chmod(path, 0o600)
    _, warnings = load_config(path)
    assert warnings == []


def test_write_default_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_default_config(path)
    assert path.read_text(encoding="utf-8") == DEFAULT_CONFIG_TEXT
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left


def test_write_default_config_never_overwrites(tmp_path: Path) -> None:
    path = write(tmp_path / "config.json", b"mine")
    with pytest.raises(ConfigError) as info:
        write_default_config(path)
    assert info.value.key == "config.exists"
    assert path.read_bytes() == b"mine"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_write_default_config_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        write_default_config(tmp_path / "no" / "config.json")
    assert info.value.key == "config.no_parent"


def test_rfc2136_bad_tsig_algorithm_is_one_problem() -> None:
    rfc = {"dns": "rfc2136", "id": "key.", "token": "c2VjcmV0", "domain": "example.com", "sub_domain": "mc",
           "endpoint": "192.0.2.1"}
    problems = problems_of({**rfc, "tsig_algorithm": "hmac-foo"})
    assert len(problems) == 1 and "hmac-foo" in problems[0], problems
    config, _ = parse_config({**rfc, "tsig_algorithm": "HMAC-SHA512."})
    assert config.dns.tsig_algorithm == "hmac-sha512"


def test_forward_limits() -> None:
    config, warnings = parse_config({"max_connections": 64, "idle_timeout": 600})
    assert (config.max_connections, config.idle_timeout, warnings) == (64, 600.0, [])
    assert Config().max_connections is None and Config().idle_timeout is None
    problems = problems_of({"max_connections": 0, "idle_timeout": "1h"})
    assert [p.split("：")[0] for p in problems] == ["max_connections", "idle_timeout"]
