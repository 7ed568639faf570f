"""The ``upnp`` / ``upnp_gateway`` config keys (SPEC section 14), checked without I/O."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from nat1_traversal.config import UpnpMode
from nat1_traversal.i18n import t


@dataclass(frozen=True, slots=True)
class UpnpKeys:
    mode: UpnpMode
    gateway: ipaddress.IPv4Address | None
    problems: tuple[str, ...]


def parse_upnp_keys(upnp: object, gateway: object) -> UpnpKeys:
    """``upnp``: "auto" (also null), true or false; ``upnp_gateway``: null or an IPv4 literal."""
    problems: list[str] = []
    mode: UpnpMode = "auto"
    if upnp is True or upnp is False:
        mode = upnp
    elif upnp is not None and upnp != "auto":
        problems.append(t("portmap.config.bad_upnp", value=json.dumps(upnp, ensure_ascii=False)))
    address: ipaddress.IPv4Address | None = None
    if gateway is not None:
        try:
            if not isinstance(gateway, str):
                raise ValueError(gateway)
            address = ipaddress.IPv4Address(gateway.strip())
        except ValueError:
            problems.append(t("portmap.config.bad_gateway", value=json.dumps(gateway, ensure_ascii=False)))
        else:
            if address.is_unspecified or address.is_multicast or address.is_loopback:
                problems.append(t("portmap.config.bad_gateway", value=json.dumps(gateway, ensure_ascii=False)))
                address = None
    return UpnpKeys(mode, address, tuple(problems))
