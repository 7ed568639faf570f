"""SPEC section 11: the ``services`` list merged with the top-level defaults, and every problem at once."""

from __future__ import annotations

from typing import Any

import pytest

from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError
from nat1_traversal.service_config import parse_file

BASE: dict[str, Any] = {
    "dns": "no_dns", "status": False, "upnp": False, "reach_check": [],
    "stun_tcp": ["127.0.0.1:9"], "stun_udp": ["127.0.0.1:9"], "keepalive_tcp": ["127.0.0.1:9"],
}
SPEC_EXAMPLE: dict[str, Any] = {
    "dns": "cloudflare", "token": "cf-token-0123456789", "domain": "example.com",
    "status": "127.0.0.1:8730", "upnp": False, "reach_check": [],
    "services": [
        {"name": "java", "type": "mcje", "sub_domain": "mc", "local": ":25565"},
        {"name": "bedrock", "type": "mcbe", "sub_domain": "mc", "local": ":19132", "remote": ":19133"},
        {"name": "site", "type": "web", "sub_domain": "www", "local": ":8443", "remote": ":443"},
    ],
}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_file(data)
    return list(caught.value.problems)


def test_the_spec_example_defaults_and_overrides() -> None:
    config, warnings = parse_file(SPEC_EXAMPLE)
    assert warnings == []
    java, bedrock, site = config.services
    assert [s.service_name for s in config.services] == ["java", "bedrock", "site"]
    assert [s.type for s in config.services] == ["mcje", "mcbe", "web"]
    # the top-level keys are every service's defaults
    for service in config.services:
        assert service.dns.kind == "cloudflare" and service.dns.domain == "example.com"
        assert service.dns.token is not None and service.dns.token.reveal() == "cf-token-0123456789"
        assert service.status is not None and service.status.port == 8730
        assert service.upnp is False
    assert (java.dns.fqdn, site.dns.fqdn) == ("mc.example.com", "www.example.com")
    assert java.remote is None and not java.forward_mode
    assert bedrock.remote is not None and bedrock.remote.port == 19133
    assert str(site.local) == "0.0.0.0:8443"
    # the file's config is the first service, carrying them all
    assert config.service_name == "java" and config.all_services == config.services


def test_a_service_key_wins_over_the_default() -> None:
    config, _ = parse_file({**BASE, "keepalive_interval": 20, "ttl": 120, "services": [
        {"local": ":25565"},
        {"local": ":25566", "keepalive_interval": 5, "ttl": 60, "stun_tcp": ["127.0.0.1:7"]},
    ]})
    first, second = config.services
    assert (first.keepalive_interval, first.dns.ttl) == (20.0, 120)
    assert (second.keepalive_interval, second.dns.ttl) == (5.0, 60)
    assert [str(s) for s in first.stun_tcp] == ["127.0.0.1:9"]
    assert [str(s) for s in second.stun_tcp] == ["127.0.0.1:7"]


def test_default_names_are_type_and_local_port() -> None:
    config, _ = parse_file({**BASE, "services": [
        {"type": "mcje", "local": ":25565"}, {"type": "mcbe", "local": ":19132", "remote": ":19133"},
    ]})
    assert [s.service_name for s in config.services] == ["mcje-25565", "mcbe-19132"]


def test_a_file_without_services_is_one_service_as_before() -> None:
    data = {**BASE, "type": "web", "local": ":8443", "remote": ":443"}
    config, warnings = parse_file(data)
    plain, plain_warnings = parse_config(data)
    assert config == plain and warnings == plain_warnings
    assert config.services == () and config.all_services == (config,)
    assert config.service_name == "web-8443"
    named, _ = parse_file({**data, "name": "site"})
    assert named.service_name == "site"


def test_top_level_only_keys_inside_a_service_are_errors() -> None:
    found = problems({**BASE, "services": [
        {"local": ":25565", "status": "127.0.0.1:1", "resolver": "system"},
        {"local": ":25566", "status_token": "0123456789abcdef0", "services": []},
    ]})
    assert found == [
        "services[0].status：status 只能写在最外层（对所有服务生效），不能写在 services 里",
        "services[0].resolver：resolver 只能写在最外层（对所有服务生效），不能写在 services 里",
        "services[1].status_token：status_token 只能写在最外层（对所有服务生效），不能写在 services 里",
        "services[1].services：services 只能写在最外层（对所有服务生效），不能写在 services 里",
    ]


@pytest.mark.parametrize("name", ["", "a b", "x" * 33, "名字", 7, True])
def test_bad_names(name: object) -> None:
    found = problems({**BASE, "services": [{"local": ":25565", "name": name}]})
    assert len(found) == 1 and found[0].startswith("services[0].name：")


def test_good_names() -> None:
    config, _ = parse_file({**BASE, "services": [{"local": ":1", "name": "A-z_09"}, {"local": ":2", "name": "x" * 32}]})
    assert [s.service_name for s in config.services] == ["A-z_09", "x" * 32]


def test_duplicate_names_and_ports() -> None:
    found = problems({**BASE, "services": [
        {"name": "java", "type": "mcje", "local": ":25565"},
        {"name": "java", "type": "mcje", "local": ":25566"},
        {"type": "tcp", "local": "127.0.0.1:25565"},  # same protocol and port as java, another address
        {"type": "udp", "local": ":25565"},  # another protocol: fine
        {"type": "mcje", "local": ":25567"},
        {"name": "mcje-25567", "type": "web", "local": ":8443"},  # an explicit name equal to a default one
    ]})
    assert found == [
        "services[1].name：服务名 \"java\" 与 services[0] 重复，每个服务的 name 必须不同",
        "services[2].local：TCP 端口 25565 已被 services[0]（java）使用，两个服务不能用同一协议的同一本地端口",
        "services[5].name：服务名 \"mcje-25567\" 与 services[4] 重复，每个服务的 name 必须不同",
    ]


def test_a_top_level_local_shared_by_two_services_is_a_duplicate_port() -> None:
    found = problems({**BASE, "local": ":25565", "services": [{"name": "a"}, {"name": "b"}]})
    assert found == ["services[1]：TCP 端口 25565 已被 services[0]（a）使用，两个服务不能用同一协议的同一本地端口"]


def test_every_problem_at_once_with_its_path() -> None:
    found = problems({**BASE, "ttl": 0, "services": [
        {"name": "java", "local": ":25565"},
        {"name": "bedrock", "type": "mcbe", "local": ":1913x", "keepalive_interval": "fast"},
        {"name": "site", "type": "wbe", "local": ":8443"},
        {"name": "raw", "type": "udp", "local": ":9000", "proxy_protocol": "v1"},
        "not an object",
    ]})
    # the bad default once, without a path; every service's own problem with its path
    assert found == [
        "ttl：0 无效，必须是 1 到 86400 之间的整数，或 null",
        "services[1].keepalive_interval：\"fast\" 无效，必须是 1 到 3600 之间的数字（秒）",
        "services[1].local：地址 \":1913x\" 中的端口无效（应为 1-65535）",
        "services[2].type：不支持的值 \"wbe\"，可选值为 mcje, mcbe, web, tcp, udp",
        "services[3]：proxy_protocol：仅适用于 TCP 类型，type 为 udp 时请设为 null",
        "services[4]：必须是一个 JSON 对象 {...}",
    ]


def test_a_provider_problem_of_one_service_names_it() -> None:
    found = problems({"dns": "cloudflare", "domain": "example.com", "status": False, "services": [
        {"name": "java", "local": ":25565", "sub_domain": "mc", "token": "cf-token-0123456789"},
        {"name": "site", "local": ":8443", "sub_domain": "www"},
    ]})
    assert len(found) == 1 and found[0].startswith("services[1]：") and "token" in found[0]


def test_a_problem_every_service_shares_is_reported_once() -> None:
    found = problems({"dns": "cloudflare", "domain": "example.com", "status": False, "services": [
        {"name": "java", "local": ":25565", "sub_domain": "mc"},
        {"name": "site", "local": ":8443", "sub_domain": "www"},
    ]})
    assert len(found) == 1 and not found[0].startswith("services[") and "token" in found[0]


@pytest.mark.parametrize("services", [[], {}, "java", None])
def test_services_must_be_a_non_empty_list(services: object) -> None:
    assert problems({**BASE, "services": services}) == ["services：必须是由服务对象 {...} 组成的非空列表"]


def test_unknown_keys_inside_a_service_are_warnings_with_the_path() -> None:
    _, warnings = parse_file({**BASE, "services": [{"local": ":25565", "colour": "red"}]})
    assert warnings == ["配置文件中有未知字段 \"services[0].colour\"，已忽略（拼写错误？）"]


def test_a_mode_that_cannot_work_names_its_service() -> None:
    from nat1_traversal.errors import UsageError
    from nat1_traversal.supervisor import Supervisor

    config, _ = parse_file({**BASE, "services": [
        {"name": "java", "local": ":25565"},
        {"name": "raw", "type": "udp", "local": ":9000"},  # UDP in shared-port mode: refused
    ]})
    with pytest.raises(UsageError) as caught:
        Supervisor(config).check()
    assert caught.value.render().startswith("services[1]（raw）：")


def test_local_and_remote_options_apply_to_a_list_of_one_and_are_refused_for_two() -> None:
    from nat1_traversal.addr import parse_local, parse_remote
    from nat1_traversal.cli import Options, apply_overrides
    from nat1_traversal.errors import UsageError

    one, _ = parse_file({**BASE, "services": [{"name": "java", "local": ":25565"}]})
    options = Options(local=parse_local(":25570"), remote=parse_remote("127.0.0.1:25571"))
    changed = apply_overrides(one, options)
    assert [str(s.local) for s in changed.all_services] == ["0.0.0.0:25570"]
    assert changed.services[0].remote is not None and changed.services[0].remote.port == 25571
    assert changed.service_name == changed.services[0].service_name == "java"
    two, _ = parse_file({**BASE, "services": [{"local": ":25565"}, {"local": ":25566"}]})
    assert apply_overrides(two, Options()) is two
    with pytest.raises(UsageError):
        apply_overrides(two, Options(local=parse_local(":25570")))
