"""The DNS provider registry: providers declare themselves, the registry finds them (issue 10)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import nat1_traversal.dns as dns_registry
from nat1_traversal.config import DnsSettings
from nat1_traversal.config_load import parse_config
from nat1_traversal.dns import create_provider, provider_kinds, providers, validate_settings
from nat1_traversal.dns.base import HTTP_STATUSES, ErrorTable, Fault, Provider
from nat1_traversal.errors import (
    ConfigError,
    ProviderAuthError,
    ProviderError,
    RateLimited,
    RecordExists,
    ZoneNotFound,
)
from nat1_traversal.model import Secret


def test_every_provider_is_found_in_display_order() -> None:
    assert provider_kinds() == ("no_dns", "cloudflare", "dynv6", "webhook", "tencentcloud", "alidns", "rfc2136",
                                "edgeone", "edgeone_intl", "aliesa")
    for kind, spec in providers().items():
        assert spec.kind == kind and issubclass(spec.factory, Provider)


def test_discovery_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "def loaded(names):\n"
        "    return sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in names})\n"
        "from nat1_traversal.dns import providers\n"
        "providers()\n"
        "print(loaded(('tencentcloud', 'alibabacloud_alidns20150109', 'darabonba', 'requests', 'dns')))\n"
        "from nat1_traversal.config_load import parse_config\n"
        "parse_config({'dns': 'rfc2136', 'id': 'k.', 'token': 'aGVsbG8=', 'domain': 'example.com',\n"
        "              'sub_domain': 'mc', 'endpoint': '127.0.0.1:53'})\n"
        "print(loaded(('tencentcloud', 'alibabacloud_alidns20150109', 'darabonba', 'requests')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["[]", "[]"]


PLUGIN = '''
from collections.abc import Sequence

from nat1_traversal.dns.base import Provider, Record
from nat1_traversal.dns.spec import ProviderSpec


class Plugin(Provider):
    label = "plugin"

    async def sync(self, records: Sequence[Record]) -> int:
        return 0


def _check(settings):
    return [] if settings.id == "ok" else ["plugin: id must be ok"]


PROVIDER = ProviderSpec("plugin", Plugin, needs=frozenset({"id", "domain"}), check=_check)
'''


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """One more module in the dns package, as a new provider file would be."""
    (tmp_path / "nat1_plugin_provider.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.setattr(dns_registry, "__path__", [*dns_registry.__path__, str(tmp_path)])
    providers.cache_clear()
    try:
        yield tmp_path
    finally:
        monkeypatch.undo()
        providers.cache_clear()
        sys.modules.pop("nat1_traversal.dns.nat1_plugin_provider", None)


def test_a_new_provider_is_one_file(plugin_dir: Path) -> None:
    assert "plugin" in provider_kinds()
    settings = DnsSettings(kind="plugin", id="no", domain="example.com", sub_domain="mc")
    assert validate_settings(settings) == ["plugin: id must be ok"]
    assert validate_settings(DnsSettings(kind="plugin", domain="example.com", sub_domain="mc"))[0].startswith(
        "使用 plugin 时 id 不能为空")
    config, _ = parse_config({"dns": "plugin", "id": "ok", "domain": "example.com", "sub_domain": "mc"})
    assert config.dns.kind == "plugin"
    assert type(create_provider(config.dns)).__name__ == "Plugin"


def test_unknown_kind_lists_the_discovered_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"dns": "route53"})
    assert "no_dns, cloudflare, dynv6, webhook, tencentcloud, alidns, rfc2136" in str(caught.value)


def test_error_table_exact_then_prefix_then_status() -> None:
    table = ErrorTable(
        codes={"AuthFailure.UnauthorizedOperation": Fault.FORBIDDEN, "Exists": Fault.EXISTS},
        prefixes=(("AuthFailure", Fault.AUTH), ("Throttling", Fault.RATE)),
        statuses=HTTP_STATUSES,
        permission="SomePermission",
    )

    def classify(code: str, status: int | None = None) -> ProviderError:
        return table.error(provider="p", detail=f"{code}!", zone="example.com", codes=[code], status=status,
                           retry_after=7.0)

    forbidden = classify("AuthFailure.UnauthorizedOperation", 401)
    assert isinstance(forbidden, ProviderAuthError) and forbidden.hint == "dns.hint.permission"
    assert "SomePermission" in str(forbidden)
    assert classify("AuthFailure.SignatureFailure").hint == "dns.hint.auth"
    rate = classify("Throttling.User")
    assert isinstance(rate, RateLimited) and rate.retry_after == 7.0
    assert isinstance(classify("Exists"), RecordExists)
    assert isinstance(classify("Other", 429), RateLimited)
    assert type(classify("Other", 500)) is ProviderError
    assert not isinstance(classify("Other"), (ProviderAuthError, ZoneNotFound, RateLimited))


def test_validation_comes_from_the_declarations() -> None:
    # rfc2136 needs endpoint as host:port; cloudflare needs a token; webhook's endpoint is unused.
    rfc = validate_settings(DnsSettings(kind="rfc2136", id="k.", token=Secret("aGVsbG8="), domain="example.com",
                                        sub_domain="mc"))
    assert rfc == ['使用 rfc2136 时 endpoint 必须是主服务器的 "host[:port]"：']
    assert validate_settings(DnsSettings(kind="webhook", id="https://h.example/x", domain="example.com",
                                         sub_domain="mc", endpoint="not a url")) == []
    assert validate_settings(DnsSettings(kind="dynv6", token=Secret("t"), domain="example.com", sub_domain="mc",
                                         endpoint="ftp://x")) == ["endpoint 必须是 http:// 或 https:// 开头的地址：ftp://x"]
