"""Lab pieces for the reachability checks (SPEC section 13).

* ``PortCheck``: the port-check service of ``tests/lab/portcheck.py``, run in ``inet``
  at ``CHECKER_IP`` (it connects back to whatever it is asked to test);
* ``block_new_inbound`` / ``unblock``: the router starts (stops) dropping new inbound
  connections to one outside port, as an ISP that blocks a port would; established
  flows (the keepalive) go on;
* hairpin NAT: ``lab.set_nat("fullcone", hairpin=True)``; a redial:
  ``lab.move_public_ip(ip)`` (both in core.py).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.core import NatLab
from tests.lab.rules import OUTSIDE_IF, TABLE

CHECKER_IP = "203.0.113.30"
CHECKER_PORT = 80
# The template the product is given: the checker tests exactly this ip:port/proto.
CHECKER_TEMPLATE = f"http://{CHECKER_IP}/check/{{ip}}/{{port}}/{{proto}}"
# Like Transmission's: it tests the requester's address.
REQUESTER_TEMPLATE = f"http://{CHECKER_IP}/{{port}}"
BLOCK_CHAIN = "reach_block"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class PortCheck:
    lab: NatLab
    proc: subprocess.Popen[str]
    _lines: list[str] = field(default_factory=list)

    def checks(self) -> list[str]:
        """The ``CHECK ip port proto result`` lines printed so far (reads what is there)."""
        return list(self._lines)

    def read_check(self) -> str:
        """Block until the next check line (the caller bounds the test by the product's timing)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        self._lines.append(line)
        return line

    def stop(self) -> None:
        self.lab.stop(self.proc)
        self.lab.run("inet", ["ip", "addr", "del", f"{CHECKER_IP}/24", "dev", "i0"], check=False)


def start_portcheck(lab: NatLab) -> PortCheck:
    lab.run("inet", ["ip", "addr", "replace", f"{CHECKER_IP}/24", "dev", "i0"])
    argv = [sys.executable, "-m", "tests.lab.portcheck", CHECKER_IP, str(CHECKER_PORT)]
    proc = lab.popen("inet", argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(REPO))
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip()
    assert ready == "READY", "port-check service did not start"
    return PortCheck(lab, proc)


def block_new_inbound(lab: NatLab, proto: str, outside_port: int) -> None:
    """New connections from outside to ``outside_port`` are dropped from now on (before
    the NAT looks them up), established ones pass."""
    script = (
        f"table ip {TABLE} {{\n"
        f"  chain {BLOCK_CHAIN} {{ type filter hook prerouting priority -150; policy accept;\n"
        f'    iifname "{OUTSIDE_IF}" {proto} dport {outside_port} ct state new drop\n'
        "  }\n}\n"
    )
    lab.run("router", ["nft", "-f", "-"], input=script)


def unblock(lab: NatLab) -> None:
    lab.run("router", ["nft", "delete", "chain", "ip", TABLE, BLOCK_CHAIN], check=False)
