"""A double NAT for the port-mapping tests: a host behind a home gateway behind the carrier's NAT.

::

    host      192.168.1.2              nat1_traversal runs here (default via 192.168.1.1)
      | l0 -- g0
    home      192.168.1.1 | 10.0.0.2   home gateway: port-preserving masquerade, drops unsolicited
      | h0 -- r0                       inbound; miniupnpd (UPnP IGD, NAT-PMP, PCP) on 192.168.1.1
    router    10.0.0.1 | 203.0.113.1   the carrier NAT of ``core.py`` (FULL CONE by default)
      | r1 -- i0
    inet      coturn, players          as in ``core.py``

It extends :class:`NatLab`: the lab's "home" namespace becomes the home gateway,
and a fourth namespace, "host", sits behind it. Nothing leaves the namespaces.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Literal

from tests.lab.core import ROUTER_OUTSIDE_IP, STUN_PRIMARY, LabError, NatLab, _run
from tests.lab.rules import EXTERNAL_PORTS, ruleset

HOST_IP = "192.168.1.2"
GATEWAY_LAN_IP = "192.168.1.1"
GATEWAY_WAN_IP = "10.0.0.2"
HOME_TABLE = "nat1home"
UPNP_TABLE = "nat1upnp"
DOUBLE_TOOLS = ("ip", "nft", "conntrack", "turnserver", "miniupnpd")


def home_ruleset() -> str:
    """The home gateway's own NAT and filter, with the chains miniupnpd fills in (pure text).

    Masquerade keeps the source port when it is free (no ``random``), like most home
    routers; a new inbound flow passes only when a forward (DNAT) made it.
    """
    return f"""table inet {UPNP_TABLE}
delete table inet {UPNP_TABLE}
table inet {UPNP_TABLE} {{
  chain forward {{ type filter hook forward priority filter; policy accept;
    iifname "h0" ct state established,related accept
    iifname "h0" jump miniupnpd
    iifname "h0" ct state new drop
  }}
  chain miniupnpd {{ }}
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;
    iifname "h0" jump prerouting_miniupnpd
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    oifname "h0" jump postrouting_miniupnpd
    oifname "h0" ip saddr 192.168.1.0/24 masquerade
  }}
  chain prerouting_miniupnpd {{ }}
  chain postrouting_miniupnpd {{ }}
}}
"""


@dataclass(frozen=True)
class UpnpdOptions:
    """How the home gateway's miniupnpd behaves."""

    # How miniupnpd learns its external address. "stun": its STUN self-test against the lab's coturn; it
    # forwards only when the carrier's NAT is full cone *and* keeps ports (1:1), and turns forwarding off
    # otherwise. "private": no STUN, its WAN address 10.0.0.2 is private, forwarding is refused.
    # (ext_ip= cannot stand in: miniupnpd refuses the lab's TEST-NET addresses there as reserved.)
    wan: Literal["stun", "private"] = "stun"
    natpmp: bool = True  # NAT-PMP and PCP (one switch in miniupnpd)
    upnp: bool = True
    min_lifetime: int = 1
    force_igd_v1: bool = False


def upnpd_config(options: UpnpdOptions) -> str:
    yes = {True: "yes", False: "no"}
    lines = [
        "ext_ifname=h0",
        "listening_ip=g0",
        f"enable_upnp={yes[options.upnp]}",
        f"enable_natpmp={yes[options.natpmp]}",
        "secure_mode=yes",
        "system_uptime=no",
        f"min_lifetime={options.min_lifetime}",
        "max_lifetime=86400",
        "notify_interval=60",
        "clean_ruleset_interval=600",
        f"upnp_table_name={UPNP_TABLE}",
        f"upnp_nat_table_name={UPNP_TABLE}",
        "upnp_forward_chain=miniupnpd",
        "upnp_nat_chain=prerouting_miniupnpd",
        "upnp_nat_postrouting_chain=postrouting_miniupnpd",
        "uuid=4d696e69-5550-6e50-0000-6e6174317472",
        "allow 1024-65535 192.168.1.0/24 1024-65535",
        "deny 0-65535 0.0.0.0/0 0-65535",
    ]
    if options.wan == "stun":
        lines += ["ext_perform_stun=yes", f"ext_stun_host={STUN_PRIMARY[0]}", f"ext_stun_port={STUN_PRIMARY[1]}"]
    if options.force_igd_v1:
        lines.append("force_igd_desc_v1=yes")
    return "\n".join(lines) + "\n"


class DoubleNatLab(NatLab):
    """``DoubleNatLab().build()``; then ``start_upnpd()``; always ``destroy()``."""

    def __init__(self, tag: str | None = None) -> None:
        super().__init__(tag)
        self.host_ns = self.ns.home.replace("nat1-home-", "nat1-host-")
        self.upnpd: subprocess.Popen[bytes] | None = None

    def build(self, kind: str = "fullcone", *, keep_ports: bool = True) -> DoubleNatLab:
        super().build(kind)
        try:
            self._build_host()
            if kind == "fullcone":
                self.set_carrier(keep_ports=keep_ports)
        except BaseException:
            self.destroy()
            raise
        return self

    def _build_host(self) -> None:
        home = self.ns.home
        _run(["ip", "netns", "add", self.host_ns])
        _run(["ip", "link", "add", "l0", "netns", self.host_ns, "type", "veth", "peer", "g0", "netns", home])
        _run(["ip", "-n", self.host_ns, "-batch", "-"], stdin="\n".join([
            "link set lo up", "link set l0 up", f"addr add {HOST_IP}/24 dev l0",
            f"route add default via {GATEWAY_LAN_IP}",
        ]) + "\n")  # fmt: skip
        _run(["ip", "-n", home, "-batch", "-"], stdin="\n".join([
            "link set g0 up", f"addr add {GATEWAY_LAN_IP}/24 dev g0",
            # SSDP: M-SEARCH to 239.255.255.250 arrives on g0; miniupnpd joins the group there.
            "route add 224.0.0.0/4 dev g0",
        ]) + "\n")  # fmt: skip
        self.run("home", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self.run("host", ["sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 60999"])
        self.set_home_rules()

    def set_carrier(self, *, keep_ports: bool) -> None:
        """The carrier's FULL CONE NAT of ``rules.py``; ``keep_ports`` maps inner port P to outer port P
        (a 1:1 NAT, which miniupnpd's STUN self-test wants) instead of a port in 61000-65000."""
        rules = ruleset("fullcone", self.mapping_timeout)
        if keep_ports:
            low, high = EXTERNAL_PORTS
            rules = rules.replace(f"snat ip to {ROUTER_OUTSIDE_IP}:{low}-{high}", f"snat ip to {ROUTER_OUTSIDE_IP}")
        _run(["ip", "netns", "exec", self.ns.router, "nft", "-f", "-"], stdin=rules)
        self.kind = "fullcone"
        self.drop_mapping()

    def forget(self) -> None:
        """Both NATs forget every flow and mapping (as after a while, or a reboot of both boxes).

        Needed between runs: a flow the home gateway saw before a forward existed stays bound
        to the gateway itself in conntrack, and a flow forwarded before stays forwarded."""
        self.drop_mapping()
        subprocess.run(["ip", "netns", "exec", self.ns.home, "conntrack", "-F"], capture_output=True, check=False,
                       timeout=10)  # fmt: skip

    def set_home_rules(self) -> None:
        _run(["ip", "netns", "exec", self.ns.home, "nft", "-f", "-"], stdin=home_ruleset())

    def __enter__(self) -> DoubleNatLab:
        return self

    def _name(self, ns: str) -> str:
        return self.host_ns if ns == "host" else super()._name(ns)

    def start_upnpd(self, options: UpnpdOptions | None = None, *, deadline: float = 10.0) -> subprocess.Popen[bytes]:
        """Start miniupnpd on the home gateway and wait until its HTTP port and UDP 5351 answer."""
        self.stop_upnpd()
        options = options or UpnpdOptions()
        conf = os.path.join(self.workdir, "miniupnpd.conf")
        with open(conf, "w", encoding="ascii") as out:
            out.write(upnpd_config(options))
        log = open(os.path.join(self.workdir, "miniupnpd.log"), "wb")  # noqa: SIM115 (owned by the process)
        argv = ["miniupnpd", "-f", conf, "-d", "-P", os.path.join(self.workdir, "miniupnpd.pid"), "-p", "5000"]
        self.upnpd = self.popen("home", argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + deadline
        while True:
            if self.upnpd.poll() is not None:
                raise LabError(f"miniupnpd exited {self.upnpd.returncode}: {self.upnpd_log()[-2000:]}")
            probe = self.socket("host", socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.settimeout(0.2)
                probe.connect((GATEWAY_LAN_IP, 5000))
                self._close_wan_input()
                return self.upnpd
            except OSError:
                if time.monotonic() > end:
                    raise LabError(f"miniupnpd not listening: {self.upnpd_log()[-2000:]}") from None
                time.sleep(0.05)  # bounded retry of a refused connect: no event to await
            finally:
                probe.close()

    def _close_wan_input(self) -> None:
        """Once miniupnpd's STUN self-test is done, the gateway drops unsolicited inbound to itself too.

        Otherwise a probe that a test's host provoked (a CHANGE-REQUEST answer to a port with no
        forward) is delivered to the gateway, stays in conntrack and makes the next flow on that
        port lose its port preservation; real home routers drop it.
        """
        _run(["ip", "netns", "exec", self.ns.home, "nft", "-f", "-"], stdin=(
            f"table inet {UPNP_TABLE} {{\n  chain input {{ type filter hook input priority filter; policy accept;\n"
            '    iifname "h0" ct state new drop\n  }\n}\n'
        ))  # fmt: skip
        self.forget()

    def upnpd_log(self) -> str:
        try:
            with open(os.path.join(self.workdir, "miniupnpd.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop_upnpd(self) -> None:
        if self.upnpd is not None:
            self.stop(self.upnpd)
            self.upnpd = None
            self.set_home_rules()  # forget every forward it made

    def forwards(self) -> str:
        """The DNAT rules miniupnpd holds right now (nft text)."""
        return self.run("home", ["nft", "list", "chain", "inet", UPNP_TABLE, "prerouting_miniupnpd"]).stdout

    def destroy(self) -> None:
        super().destroy()
        subprocess.run(["ip", "netns", "del", self.host_ns], capture_output=True, check=False, timeout=10)


def tools_present() -> bool:
    return all(shutil.which(tool) for tool in DOUBLE_TOOLS)
