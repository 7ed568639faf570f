"""The NAT lab itself: fast to build, and each kind filters the way it claims."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time

import pytest

from nat1_traversal.stun import codec
from nat1_traversal.stun.codec import AttrType
from tests.lab import HOME_IP, PLAYER_IPS, ROUTER_OUTSIDE_IP, STUN_PRIMARY, TOOLS, NatLab
from tests.lab.fixtures import nat_lab  # noqa: F401  (fixture)
from tests.lab.rules import NAT_KINDS, canonical_kind, ruleset
from tests.support.ci import require_root_tools

pytestmark = pytest.mark.netns


def test_rulesets_differ_where_they_should() -> None:
    rules = {kind: ruleset(kind) for kind in NAT_KINDS}
    assert "fully-random" in rules["symmetric"] and "@eim_udp" not in rules["symmetric"].split("chain")[-3]
    assert all("fully-random" not in rules[k] for k in ("fullcone", "restricted", "portrestricted"))
    assert "dnat ip to udp dport map @inbound_udp" in rules["fullcone"]
    assert "@contacted_udp dnat" in rules["restricted"]
    assert "dnat ip to" not in rules["portrestricted"] and "dnat ip to" not in rules["open"]
    assert canonical_kind("NAT1") == "fullcone" and canonical_kind("port-restricted") == "portrestricted"
    with pytest.raises(ValueError):
        canonical_kind("cgnat")


def test_build_and_destroy_in_well_under_a_second() -> None:
    require_root_tools(*TOOLS)
    started = time.monotonic()
    lab = NatLab().build("portrestricted")
    built = time.monotonic() - started
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        assert all(name in names for name in lab.ns.all())
    finally:
        started = time.monotonic()
        lab.destroy()
        destroyed = time.monotonic() - started
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in names for name in lab.ns.all())
    print(f"lab build {built:.3f} s, destroy {destroyed:.3f} s")
    assert built < 1.0 and destroyed < 0.5


def _mapped_port(lab: NatLab, home: socket.socket) -> int:
    tid = secrets.token_bytes(12)
    home.sendto(codec.binding_request(tid), STUN_PRIMARY)
    data, _ = home.recvfrom(2048)
    message = codec.decode(data)
    assert message.transaction_id == tid
    mapped = message.address(AttrType.XOR_MAPPED_ADDRESS)
    assert mapped is not None and str(mapped.ip) == lab.public_ip()
    return mapped.port


def _reaches(player: socket.socket, home: socket.socket, port: int) -> bool:
    """Does a datagram from ``player`` to the mapped port arrive at ``home``?"""
    token = secrets.token_bytes(8)
    player.sendto(token, (ROUTER_OUTSIDE_IP, port))
    home.settimeout(0.3)
    try:
        while True:
            data, _ = home.recvfrom(2048)
            if data == token:
                return True
    except TimeoutError:
        return False


@pytest.mark.parametrize(
    ("kind", "stranger", "after_contact"),
    [("fullcone", True, True), ("restricted", False, True), ("portrestricted", False, False)],
)
def test_filtering_of_each_cone(nat_lab: NatLab, kind: str, stranger: bool, after_contact: bool) -> None:  # noqa: F811
    nat_lab.set_nat(kind)
    home = nat_lab.socket("home")
    player = nat_lab.socket("inet")
    try:
        home.settimeout(2)
        home.bind((HOME_IP, 40100))
        player.bind((PLAYER_IPS[0], 50000))
        port = _mapped_port(nat_lab, home)
        assert port != 40100  # no port preservation
        assert _reaches(player, home, port) is stranger
        home.sendto(b"hello", (PLAYER_IPS[0], 9))  # contact the player's address, another port
        assert _reaches(player, home, port) is after_contact
    finally:
        home.close()
        player.close()


def test_symmetric_mapping_depends_on_destination(nat_lab: NatLab) -> None:  # noqa: F811
    nat_lab.set_nat("symmetric")
    home = nat_lab.socket("home")
    try:
        home.settimeout(2)
        home.bind((HOME_IP, 40101))
        first = _mapped_port(nat_lab, home)
        tid = secrets.token_bytes(12)
        home.sendto(codec.binding_request(tid), ("203.0.113.11", 3479))
        second = codec.decode(home.recvfrom(2048)[0]).address(AttrType.XOR_MAPPED_ADDRESS)
        assert second is not None and second.port != first
    finally:
        home.close()


def test_drop_mapping_and_idle_expiry(nat_lab: NatLab) -> None:  # noqa: F811
    home = nat_lab.socket("home")
    try:
        home.settimeout(2)
        home.bind((HOME_IP, 40102))
        first = _mapped_port(nat_lab, home)
        assert _mapped_port(nat_lab, home) == first
        nat_lab.drop_mapping()
        second = _mapped_port(nat_lab, home)
        assert second != first
        nat_lab.set_nat("fullcone", mapping_timeout=1)
        third = _mapped_port(nat_lab, home)
        deadline = time.monotonic() + 5
        while _mapped_port(nat_lab, home) == third:  # refreshed while busy ...
            assert time.monotonic() < deadline, "mapping never expired"
            time.sleep(1.5)  # ... and expires when idle longer than the timeout (1 s)
    finally:
        home.close()


def test_popen_is_stopped_by_the_fixture(nat_lab: NatLab) -> None:  # noqa: F811
    proc = nat_lab.popen("home", ["sleep", "30"])
    assert proc.poll() is None
    nat_lab.stop(proc)
    assert proc.returncode is not None
    assert os.path.exists(f"/run/netns/{nat_lab.ns.home}")
