"""The ``upnp`` / ``upnp_gateway`` keys (SPEC §14) in config.json."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.config_load import parse_config
from nat1_traversal.errors import ConfigError


def test_defaults() -> None:
    config, warnings = parse_config({"status": False})
    assert config.upnp == "auto" and config.upnp_gateway is None
    assert not warnings


@pytest.mark.parametrize(("value", "mode"), [("auto", "auto"), (True, True), (False, False), (None, "auto")])
def test_modes(value: object, mode: object) -> None:
    config, warnings = parse_config({"upnp": value, "upnp_gateway": "192.168.31.1", "status": False})
    assert config.upnp == mode and config.upnp_gateway == ipaddress.IPv4Address("192.168.31.1")
    assert not warnings  # both keys are known


def test_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"upnp": "yes", "upnp_gateway": "router.lan", "ttl": 0, "status": False})
    text = caught.value.render()
    assert 'upnp 只能是 "auto"、true 或 false' in text and '"yes"' in text
    assert "upnp_gateway" in text and "router.lan" in text
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize("value", [1, "0.0.0.0", "127.0.0.1", "224.0.0.1", "fe80::1", ["192.168.1.1"]])
def test_bad_gateways(value: object) -> None:
    with pytest.raises(ConfigError):
        parse_config({"upnp_gateway": value, "status": False})
