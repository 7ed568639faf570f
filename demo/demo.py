"""See nat1_traversal work without a NAT1 line (root, Linux): ``sudo python3 demo/demo.py``.

It builds the NAT lab (network namespaces: home behind an emulated FULL CONE NAT,
"the Internet" with STUN servers and a player), starts a sample Minecraft server
at home under LD_PRELOAD=hook_bind.so, runs nat1_traversal in shared-port mode,
lets the player fetch the server's status through the logged address, makes the
NAT forget its mappings, shows the new address being found and used, and tears
everything down. Nothing leaves the namespaces it creates.

Options: ``--forward`` (forward mode instead of shared-port), ``--interval N``
(keepalive seconds, default 3).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.lab import HOME_IP, PLAYER_IPS, STUN_IPS, NatLab  # noqa: E402

MAPPING_RE = re.compile(r"获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1"}
PORT = 25565


def say(text: str) -> None:
    print(f"\n\033[1;36m== {text}\033[0m", flush=True)


class Output:
    """Echoes a process's output with a prefix and lets us wait for a line."""

    def __init__(self, proc: subprocess.Popen[bytes], prefix: str) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._proc = proc
        threading.Thread(target=self._pump, args=(prefix,), daemon=True).start()

    def _pump(self, prefix: str) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            print(f"   {prefix} {line}", flush=True)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, regex: re.Pattern[str], after: int, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[after:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SystemExit("demo: the expected line did not appear in time")
                self._cond.wait(remaining)


def start_ready(lab: NatLab, ns: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO))
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"READY":
        raise SystemExit(f"demo: {argv[3]} server did not start")
    return proc


def player_query(lab: NatLab, ip: str, port: int) -> None:
    print(f"   [player {PLAYER_IPS[0]}] nat1_traversal -qj {ip}:{port}", flush=True)
    done = lab.run("inet", [sys.executable, "-m", "nat1_traversal", "-qj", f"{ip}:{port}"], env=ENV, cwd=str(REPO))
    for line in done.stdout.splitlines():
        print(f"   [player] {line}", flush=True)


def build_hook(workdir: Path) -> Path | None:
    out = workdir / "hook_bind.so"
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO / "hook_bind"), f"OUT={out}"], capture_output=True, text=True, check=False
    )
    return out if done.returncode == 0 and out.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forward", action="store_true", help="forward mode instead of shared-port mode")
    parser.add_argument("--interval", type=float, default=3.0, help="keepalive interval in seconds")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("demo: needs root (network namespaces)", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "nft", "conntrack", "turnserver") if shutil.which(tool) is None]
    if missing:
        print(f"demo: missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="nat1-demo-"))
    lab = NatLab(tag=f"demo-{os.getpid()}")
    try:
        say("Building the lab: home 10.0.0.2 -> FULL CONE router 203.0.113.1 -> Internet (STUN, player)")
        lab.build("fullcone")
        start_ready(lab, "inet", [sys.executable, "-m", "tests.support.e2e_servers", "http", STUN_IPS[0], "80"], ENV)
        hook = None if args.forward else build_hook(workdir)
        motd = "A nat1_traversal demo server"
        if hook is None:
            if not args.forward:
                print("   (hook_bind.so could not be built: using forward mode)")
            say(f"Starting a sample Minecraft server at home on 127.0.0.1:{PORT + 1} (forward mode)")
            start_ready(lab, "home", [sys.executable, "-m", "tests.support.e2e_servers", "mcje", "127.0.0.1",
                                      str(PORT + 1), motd], ENV)  # fmt: skip
            cli = ["-l", f":{PORT}", "-r", f"127.0.0.1:{PORT + 1}"]
        else:
            say(f"Starting a sample Minecraft server at home on 0.0.0.0:{PORT} under LD_PRELOAD=hook_bind.so")
            start_ready(lab, "home", [sys.executable, "-m", "tests.support.e2e_servers", "mcje", "0.0.0.0", str(PORT),
                                      motd], {**ENV, "LD_PRELOAD": str(hook)})  # fmt: skip
            cli = ["-l", f":{PORT}"]
        config = workdir / "config.json"
        config.write_text(json.dumps({
            "type": "mcje",
            "stun_tcp": [f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"],
            "stun_udp": [f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"],
            "keepalive_tcp": [f"{STUN_IPS[0]}:80"],
            "keepalive_interval": args.interval,
        }))  # fmt: skip
        say(f"Running nat1_traversal {' '.join(cli)} at home ({HOME_IP})")
        proc = lab.popen("home", [sys.executable, "-m", "nat1_traversal", "-c", str(config), *cli],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=str(workdir))  # fmt: skip
        out = Output(proc, "[nat1_traversal]")
        match = out.wait_for(MAPPING_RE, 0, 30)
        ip, port = match.group(1), int(match.group(2))
        say(f"A player on the Internet joins {ip}:{port}")
        player_query(lab, ip, port)
        say("The router forgets every mapping (like a reboot or an expiry)")
        seen = len(out.lines)
        lost = time.monotonic()
        lab.drop_mapping()
        match = out.wait_for(MAPPING_RE, seen, args.interval + 15)
        ip, port = match.group(1), int(match.group(2))
        print(f"   new mapping found {time.monotonic() - lost:.1f} s after the loss", flush=True)
        say(f"The player joins again at the new address {ip}:{port}")
        player_query(lab, ip, port)
        say("Stopping nat1_traversal (SIGTERM)")
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
        print(f"   exit code {proc.returncode}", flush=True)
    finally:
        say("Tearing the lab down")
        lab.destroy()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
