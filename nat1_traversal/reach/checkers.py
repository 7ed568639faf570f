"""External port checkers (SPEC section 13): URL templates, the built-in list, reply rules.

Pure: no I/O. A checker is a URL template with ``{ip}``, ``{port}`` and ``{proto}``
(``tcp``/``udp``). The product sends ``GET``; a ``200`` whose body is ``1``, ``true``
or JSON ``{"reachable": true}`` means reachable, ``0``, ``false`` or
``{"reachable": false}`` unreachable, anything else unknown (the next checker is
tried).

Many public checkers take no address: they test the address the request came
from. That is the mapping's only if the request leaves through the same NAT and
the same public IPv4 address (not over IPv6, not through a proxy or another WAN
line). Such a checker's answer is trusted only when that address is confirmed to
be the mapping's IP: by the ``ip`` field of its own reply, or, for one that echoes
nothing, by an echo from another checker in the same round.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from nat1_traversal.model import Mapping

Verdict = Literal["reachable", "unreachable", "unknown"]
PLACEHOLDERS = ("{ip}", "{port}", "{proto}")
_PLACEHOLDER_RE = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True, slots=True)
class Checker:
    """One URL template.

    ``requester_only``: the service ignores any address and tests the requester's.
    ``echoes_ip``: its JSON reply names the requester's address in ``"ip"``.
    ``needs_confirmation``: it echoes nothing, so its answer counts only after an
    echo earlier in the round showed that our requests leave from the mapping's IP.
    ``protos``: what it can test (a checker that only connects over TCP says
    nothing about a UDP port).
    """

    template: str
    requester_only: bool = False
    echoes_ip: bool = False
    needs_confirmation: bool = False
    protos: tuple[str, ...] = ("tcp", "udp")

    @property
    def host(self) -> str:
        rest = self.template.split("://", 1)[-1]
        return rest.split("/", 1)[0].split("?", 1)[0]

    def url(self, mapping: Mapping) -> str:
        outer = mapping.outer
        return (
            self.template.replace("{ip}", str(outer.ip))
            .replace("{port}", str(outer.port))
            .replace("{proto}", mapping.proto)
        )


# The built-in list (``reach_check: null``). Only services whose contract was read in
# their own documentation or source; both test TCP only, from their side, to the address
# the request came from, so both need the requester's address confirmed (see above).
BUILTIN: tuple[Checker, ...] = (
    # ifconfig.co (echoip, BSD): README "Port testing": `curl ifconfig.co/port/80` answers
    # {"ip": "<requester>", "port": 80, "reachable": false}; the /port endpoint, unlike the
    # others, takes no ?ip= ("All endpoints (except /port) can return information about a
    # custom IP address"), so it tests the requester. The "ip" field confirms that address.
    Checker("https://ifconfig.co/port/{port}", requester_only=True, echoes_ip=True, protos=("tcp",)),
    # Transmission's port checker, used by the Transmission clients themselves (GTK and
    # macOS: GET https://portcheck.transmissionbt.com/<port>, body "1" = open, else closed).
    # It tests the requester's address (over IPv6 when the request came over IPv6, which
    # is why the request goes over the mapping's address family) and echoes nothing, so
    # its answer counts only after an echo in the same round confirmed the address.
    Checker(
        "https://portcheck.transmissionbt.com/{port}", requester_only=True, needs_confirmation=True, protos=("tcp",)
    ),
)


def from_templates(templates: tuple[str, ...]) -> tuple[Checker, ...]:
    """The user's templates: one with ``{ip}`` tests the address it is given; one
    without tests the requester (its JSON ``ip`` field is checked when present)."""
    return tuple(Checker(template, requester_only="{ip}" not in template) for template in templates)


def template_problem(value: object) -> str | None:
    """Why ``value`` is not a usable template (a message key), or None."""
    if not isinstance(value, str) or not value.strip():
        return "reach.config.not_url"
    text = value.strip()
    if not (text.startswith(("http://", "https://"))):
        return "reach.config.not_url"
    if any(ch.isspace() for ch in text):
        return "reach.config.not_url"
    if "{port}" not in text:
        return "reach.config.no_port"
    for placeholder in _PLACEHOLDER_RE.findall(text):
        if placeholder not in PLACEHOLDERS:
            return "reach.config.bad_placeholder"
    return None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a checker's reply says: the verdict and the requester address it names."""

    verdict: Verdict
    echoed_ip: str | None = None


def read_reply(status: int, body: bytes) -> Reply:
    """The reply rules of SPEC section 13 (anything unexpected: unknown)."""
    if status != 200:
        return Reply("unknown")
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return Reply("unknown")
    lowered = text.lower()
    if lowered in ("1", "true"):
        return Reply("reachable")
    if lowered in ("0", "false"):
        return Reply("unreachable")
    try:
        data = json.loads(text)
    except ValueError:
        return Reply("unknown")
    if not isinstance(data, dict):
        return Reply("unknown")
    echoed = data.get("ip")
    echoed_ip = echoed.strip() if isinstance(echoed, str) else None
    value = data.get("reachable")
    if value is True:
        return Reply("reachable", echoed_ip)
    if value is False:
        return Reply("unreachable", echoed_ip)
    return Reply("unknown", echoed_ip)


def trusted(checker: Checker, reply: Reply, mapping: Mapping, confirmed: bool) -> Verdict:
    """``reply``'s verdict if it is about ``mapping``; else unknown.

    ``confirmed``: an echo earlier in this round showed our requests leave from the
    mapping's IP (what a requester-only checker without an echo relies on).
    """
    if reply.verdict == "unknown" or mapping.proto not in checker.protos:
        return "unknown"
    mapping_ip = str(mapping.outer.ip)
    if reply.echoed_ip is not None and reply.echoed_ip != mapping_ip:
        return "unknown"  # it tested another address: ours went out elsewhere (proxy, IPv6, other WAN)
    if checker.requester_only and checker.echoes_ip and reply.echoed_ip is None:
        return "unknown"
    if checker.needs_confirmation and not confirmed:
        return "unknown"
    return reply.verdict
