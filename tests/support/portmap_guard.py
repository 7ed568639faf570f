"""No test may make the product ask the real home router (SPEC §14, COMMON hard rules).

``install`` replaces the package's two doors: the default-gateway lookup, and
``netio.guard``, which every PCP/NAT-PMP/SSDP/HTTP send of the package passes.
Without opting in, only loopback destinations pass; anything else fails the test.
A test that runs the product inside namespaces it built opts in with
``@pytest.mark.portmap_lab``.
"""

from __future__ import annotations

import ipaddress

import pytest

from nat1_traversal.portmap import gateway, netio

MARKER = "portmap_lab"
_VIOLATIONS = pytest.StashKey[list[str]]()


class PortmapGuardViolation(RuntimeError):
    pass


def install(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the package strict for this test; returns the list of violations seen."""
    violations: list[str] = []
    request.node.stash[_VIOLATIONS] = violations
    if request.node.get_closest_marker(MARKER) is not None:
        return violations

    def refuse(what: str) -> PortmapGuardViolation:
        violations.append(what)
        return PortmapGuardViolation(f"test would contact {what}; mark it {MARKER} inside its own lab")

    def no_default_gateway() -> ipaddress.IPv4Address | None:
        raise refuse("the real default gateway")

    def loopback_only(destination: netio.Address) -> None:
        try:
            if ipaddress.ip_address(destination[0]).is_loopback:
                return
        except ValueError:
            pass
        raise refuse(f"{destination[0]}:{destination[1]}")

    monkeypatch.setattr(gateway, "default_gateway", no_default_gateway)
    monkeypatch.setattr(netio, "guard", loopback_only)
    return violations


def seen(request: pytest.FixtureRequest) -> list[str]:
    """The violations recorded so far in this test (a test of the guard itself clears them)."""
    found: list[str] = request.node.stash[_VIOLATIONS]
    return found
