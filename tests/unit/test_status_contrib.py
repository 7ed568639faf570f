"""contrib/: the systemd unit (systemd-analyze verify), the OpenWrt procd script, the Dockerfile."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
UNIT = CONTRIB / "systemd" / "nat1_traversal.service"


class _CaseKeeping(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr  # systemd keys are case-sensitive


def unit_sections() -> configparser.ConfigParser:
    parser = _CaseKeeping(strict=False, interpolation=None, delimiters=("=",))
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_is_hardened_and_restarts() -> None:
    service = unit_sections()["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["Restart"] == "always"
    assert service["RestartPreventExitStatus"] == "2"
    assert service["CapabilityBoundingSet"] == ""
    # the only writable place: the .pyz's unpack directory
    assert "ReadWritePaths" not in service
    assert service["CacheDirectory"] == "nat1_traversal"
    assert "SHIV_ROOT=/var/cache/nat1_traversal" in service["Environment"]
    assert re.search(r"-c /etc/nat1_traversal/config\.json$", service["ExecStart"])
    text = UNIT.read_text(encoding="utf-8")
    assert "SO_REUSEPORT" in text and "User=" in text  # the shared-port note


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    # verify wants the unit name as the file name; a copy keeps the check away from /etc
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    # a value systemd does not understand is only a warning: refuse those as well
    assert done.stderr.strip() == "", done.stderr


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt value is reported."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=strictt"))
    done = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert "strictt" in done.stderr


def test_openwrt_procd_script_registers_the_instance(tmp_path: Path) -> None:
    script = CONTRIB / "openwrt" / "nat1_traversal"
    assert script.read_text(encoding="utf-8").startswith("#!/bin/sh /etc/rc.common\n")
    assert subprocess.run(["sh", "-n", str(script)], check=False, timeout=30).returncode == 0
    # procd's shell API, stubbed: record what start_service asks for
    stubs = "\n".join(f'{name}() {{ echo "{name} $*"; }}' for name in (
        "procd_open_instance", "procd_set_param", "procd_close_instance", "procd_add_reload_trigger"))
    done = subprocess.run(["sh", "-c", f'{stubs}\n. "$1"\nstart_service\necho "START=$START USE_PROCD=$USE_PROCD"',
                           "sh", str(script)], capture_output=True, text=True, timeout=30, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "procd_open_instance "
    assert ("procd_set_param command /usr/bin/python3 /usr/share/nat1_traversal/nat1_traversal.pyz "
            "-c /etc/nat1_traversal/config.json") in lines
    assert "procd_set_param respawn 3600 5 0" in lines
    assert any(line.startswith("procd_set_param env SHIV_ROOT=/tmp/") for line in lines)
    assert lines[-2] == "procd_close_instance "
    assert lines[-1] == "START=99 USE_PROCD=1"


def test_dockerfile_runs_as_non_root_with_host_networking_explained() -> None:
    text = (CONTRIB / "docker" / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("ENTRYPOINT") and "nat1_traversal" in line for line in instructions)
    assert not any(line.startswith("EXPOSE") for line in instructions)  # nothing to publish on a bridge
    assert "--network host" in text and ":ro" in text and "bridge" in text
    for line in instructions:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
