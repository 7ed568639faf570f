"""UpnpMapper's decisions on SOAP faults (725 → permanent, 718 → AddAnyPortMapping kept only if it is ours)."""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.errors import PortmapRefused
from nat1_traversal.portmap import igd
from nat1_traversal.portmap.upnp import UpnpMapper

GW = ipaddress.IPv4Address("192.168.1.1")
OWN = ipaddress.IPv4Address("192.168.1.2")


class ScriptedIgd(UpnpMapper):
    """The SOAP side replaced by a script: action -> list of answers (dict) or fault codes (int)."""

    def __init__(self, version: int, script: Script) -> None:
        super().__init__(GW, OWN, "tcp", 25565, description="nat1_traversal java")
        self.service = igd.Service(f"urn:schemas-upnp-org:service:WANIPConnection:{version}", "http://192.168.1.1/c")
        self.script = script
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def call(self, action: str, arguments: dict[str, str]) -> dict[str, str]:
        self.calls.append((action, arguments))
        answers = self.script.get(action, [{}])
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, int):
            raise igd.refusal(answer, "scripted")
        return answer


Script = dict[str, list[dict[str, str] | int]]
EXTERNAL: Script = {"GetExternalIPAddress": [{"NewExternalIPAddress": "10.0.0.2"}]}


@pytest.mark.asyncio
async def test_only_permanent_leases_get_a_permanent_forward() -> None:
    mapper = ScriptedIgd(1, {"AddPortMapping": [725, {}], **EXTERNAL})
    forward = await mapper.open(3600)
    adds = [args for action, args in mapper.calls if action == "AddPortMapping"]
    assert [a["NewLeaseDuration"] for a in adds] == ["3600", "0"]
    assert forward.lifetime == 0 and mapper.permanent
    assert forward.external_ip == ipaddress.IPv4Address("10.0.0.2")
    await mapper.close()
    assert mapper.calls[-1][0] == "DeletePortMapping"  # a permanent forward is ours to delete


@pytest.mark.asyncio
async def test_igd_v2_caps_the_lease_at_a_week() -> None:
    mapper = ScriptedIgd(2, {**EXTERNAL})
    await mapper.open(10**7)
    assert mapper.calls[0][1]["NewLeaseDuration"] == "604800"
    assert mapper.calls[0][1]["NewInternalClient"] == "192.168.1.2"
    assert mapper.calls[0][1]["NewExternalPort"] == mapper.calls[0][1]["NewInternalPort"] == "25565"


@pytest.mark.asyncio
async def test_conflict_on_v2_tries_any_port_and_keeps_only_ours() -> None:
    mine = ScriptedIgd(2, {"AddPortMapping": [718], "AddAnyPortMapping": [{"NewReservedPort": "25565"}], **EXTERNAL})
    assert (await mine.open(3600)).external_port == 25565
    other = ScriptedIgd(2, {"AddPortMapping": [718], "AddAnyPortMapping": [{"NewReservedPort": "40001"}]})
    with pytest.raises(PortmapRefused) as caught:
        await other.open(3600)
    assert caught.value.code == 718
    assert ("DeletePortMapping", {"NewRemoteHost": "", "NewExternalPort": "40001", "NewProtocol": "TCP"}) in other.calls


@pytest.mark.asyncio
async def test_conflict_on_v1_is_a_refusal() -> None:
    mapper = ScriptedIgd(1, {"AddPortMapping": [718]})
    with pytest.raises(PortmapRefused) as caught:
        await mapper.open(3600)
    assert caught.value.code == 718 and "另一台设备" in caught.value.render()


@pytest.mark.asyncio
async def test_stale_forward_removed_only_when_ours_and_for_this_host() -> None:
    ours = {"NewPortMappingDescription": "nat1_traversal java", "NewInternalClient": "192.168.1.2"}
    mapper = ScriptedIgd(2, {"GetSpecificPortMappingEntry": [ours]})
    assert await mapper.remove_stale() is True
    assert mapper.calls[-1][0] == "DeletePortMapping"
    for entry in ({**ours, "NewInternalClient": "192.168.1.9"}, {**ours, "NewPortMappingDescription": "Steam"}, 714):
        other = ScriptedIgd(2, {"GetSpecificPortMappingEntry": [entry]})
        assert await other.remove_stale() is False
        assert all(action != "DeletePortMapping" for action, _ in other.calls)
