"""nftables rulesets for the lab router, one per emulated NAT kind (pure: text only).

How each kind is built (RFC 4787 terms):

* mapping: ``symmetric`` SNATs every new flow to a random port (``fully-random``):
  address-and-port-dependent mapping. The cone kinds first look the inner
  ``ip . port`` up in the dynamic map ``eim_<proto>`` and SNAT to the outer
  ``ip . port`` recorded there (endpoint-independent mapping); a miss falls through
  to the random SNAT. The external ports (61000-65000) never overlap the inner
  ones, so there is no port preservation, like a carrier NAT.
* recording: a filter chain on postrouting *after* the SNAT hook sees the final
  conntrack reply tuple and records inner -> outer (``eim_``), outer port -> inner
  (``inbound_``) and outer port . remote address (``contacted_``). Every outbound
  packet refreshes the entries, so a mapping expires after ``timeout`` idle seconds.
* filtering: ``fullcone`` DNATs any new inbound flow to a recorded outer port
  (endpoint-independent filtering), ``restricted`` only from addresses the inside
  has sent to from that port (address-dependent), ``portrestricted`` not at all:
  only conntrack replies come in (address-and-port-dependent).
* ``open``: no NAT; home uses its public address 198.51.100.2.
* ``hairpin=True`` (cone kinds): a packet from the inside to the router's outside
  address is turned around like a stranger's (RFC 4787 REQ-9): DNAT through the same
  filter as outside packets, and SNAT to the outside address, so the inside sees it
  coming from the NAT's public address.

New inbound packets to the router itself are dropped in every kind.
"""

from __future__ import annotations

from typing import Literal

NatKind = Literal["open", "fullcone", "restricted", "portrestricted", "symmetric"]
NAT_KINDS: tuple[NatKind, ...] = ("open", "fullcone", "restricted", "portrestricted", "symmetric")

ALIASES: dict[str, NatKind] = {
    "open": "open",
    "nat0": "open",
    "fullcone": "fullcone",
    "full": "fullcone",
    "nat1": "fullcone",
    "restricted": "restricted",
    "nat2": "restricted",
    "portrestricted": "portrestricted",
    "port": "portrestricted",
    "nat3": "portrestricted",
    "symmetric": "symmetric",
    "nat4": "symmetric",
}

TABLE = "nat1lab"
INSIDE_IF = "r0"
OUTSIDE_IF = "r1"
INSIDE_NET = "10.0.0.0/24"
ROUTER_OUTSIDE_IP = "203.0.113.1"
EXTERNAL_PORTS = (61000, 65000)
PROTOS = ("udp", "tcp")
DYNAMIC_SETS = tuple(f"{kind}_{proto}" for proto in PROTOS for kind in ("eim", "inbound", "contacted"))


def canonical_kind(name: str) -> NatKind:
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in ALIASES:
        raise ValueError(f"unknown NAT kind {name!r}; one of {', '.join(NAT_KINDS)}")
    return ALIASES[key]


def ruleset(kind: NatKind, timeout: int = 60, *, hairpin: bool = False, outside_ip: str = ROUTER_OUTSIDE_IP) -> str:
    """The whole ``nft -f`` script: replaces the lab table atomically.

    ``outside_ip``: the router's public address (a PPPoE redial moves it)."""
    lines = [f"table ip {TABLE}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    for proto in PROTOS:
        lines += [
            f"  map eim_{proto} {{ type ipv4_addr . inet_service : ipv4_addr . inet_service;"
            f" flags dynamic,timeout; timeout {timeout}s; }}",
            f"  map inbound_{proto} {{ type inet_service : ipv4_addr . inet_service;"
            f" flags dynamic,timeout; timeout {timeout}s; }}",
            f"  set contacted_{proto} {{ type inet_service . ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}",
        ]
    lines += _input_chain()
    if kind == "open":
        lines.append("}")
        return "\n".join(lines) + "\n"
    lines += _prerouting(kind, hairpin and kind != "symmetric", outside_ip)
    lines += _postrouting(kind, hairpin and kind != "symmetric", outside_ip)
    lines += _record_chain()
    lines += [
        "  chain forward { type filter hook forward priority filter; policy accept;",
        f'    iifname "{OUTSIDE_IF}" ct state new ct status dnat accept',
        f'    iifname "{OUTSIDE_IF}" ct state new drop',
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _input_chain() -> list[str]:
    return [
        "  chain input { type filter hook input priority filter; policy accept;",
        f'    iifname "{OUTSIDE_IF}" ct state new drop',
        "  }",
    ]


def _prerouting(kind: NatKind, hairpin: bool = False, outside_ip: str = ROUTER_OUTSIDE_IP) -> list[str]:
    rules = []
    for proto in PROTOS:
        match = f'iifname "{OUTSIDE_IF}" ip daddr {outside_ip}'
        if kind == "fullcone":
            rules.append(f"    {match} dnat ip to {proto} dport map @inbound_{proto}")
        elif kind == "restricted":
            rules.append(
                f"    {match} {proto} dport . ip saddr @contacted_{proto} dnat ip to {proto} dport map @inbound_{proto}"
            )
        if hairpin and kind == "fullcone":
            # The restricted kinds never let a hairpinned packet in: it will carry the
            # outside address as its source, which the inside never contacted.
            inside = f'iifname "{INSIDE_IF}" ip daddr {outside_ip}'
            rules.append(f"    {inside} dnat ip to {proto} dport map @inbound_{proto}")
    return ["  chain prerouting { type nat hook prerouting priority dstnat; policy accept;", *rules, "  }"]


def _postrouting(kind: NatKind, hairpin: bool = False, outside_ip: str = ROUTER_OUTSIDE_IP) -> list[str]:
    out = f'oifname "{OUTSIDE_IF}" ip saddr {INSIDE_NET}'
    low, high = EXTERNAL_PORTS
    rules = []
    if hairpin:
        rules.append(f'    oifname "{INSIDE_IF}" ip saddr {INSIDE_NET} ct status dnat snat ip to {outside_ip}')
    if kind != "symmetric":
        for proto in PROTOS:
            rules.append(f"    {out} snat ip to ip saddr . {proto} sport map @eim_{proto}")
    random = " fully-random" if kind == "symmetric" else ""
    rules.append(f"    {out} meta l4proto {{ tcp, udp }} snat ip to {outside_ip}:{low}-{high}{random}")
    rules.append(f"    {out} snat ip to {outside_ip}")
    return ["  chain postrouting { type nat hook postrouting priority srcnat; policy accept;", *rules, "  }"]


def _record_chain() -> list[str]:
    rules = []
    for proto in PROTOS:
        rules.append(
            f'    oifname "{OUTSIDE_IF}" ct direction original ct original ip saddr {INSIDE_NET}'
            f" meta l4proto {proto}"
            f" update @eim_{proto} {{ ct original ip saddr . ct original proto-src :"
            f" ct reply ip daddr . ct reply proto-dst }}"
            f" update @inbound_{proto} {{ ct reply proto-dst : ct original ip saddr . ct original proto-src }}"
            f" update @contacted_{proto} {{ ct reply proto-dst . ip daddr }}"
        )
    # After the SNAT hook (srcnat = 100): the conntrack reply tuple already holds the outer address.
    return ["  chain record { type filter hook postrouting priority srcnat + 10; policy accept;", *rules, "  }"]


def flush_script() -> str:
    """Forget every mapping the router recorded (used with a conntrack flush)."""
    lines = []
    for name in DYNAMIC_SETS:
        what = "set" if name.startswith("contacted") else "map"
        lines.append(f"flush {what} ip {TABLE} {name}")
    return "\n".join(lines) + "\n"
