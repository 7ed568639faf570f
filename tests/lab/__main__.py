"""By hand: ``python3 -m tests.lab up [KIND] [--name N]``, ``set KIND``, ``drop``, ``down``.

``up`` builds the lab and leaves it running (coturn in the background); its names are
kept in ``/run/nat1-lab-<name>.json`` so later commands find it. Then e.g.
``ip netns exec nat1-home-<name> python3 -m nat1_traversal -t``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from tests.lab.core import NatLab
from tests.lab.rules import NAT_KINDS


def _state(name: str) -> Path:
    return Path("/run") / f"nat1-lab-{name}.json"


def _load(name: str) -> tuple[NatLab, dict[str, object]]:
    path = _state(name)
    if not path.exists():
        sys.exit(f"no lab named {name!r} is up ({path} missing)")
    state = json.loads(path.read_text())
    lab = NatLab(tag=name)
    lab.built = True
    lab.workdir = str(state["workdir"])
    return lab, state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.lab")
    parser.add_argument("command", choices=["up", "set", "drop", "down"])
    parser.add_argument("kind", nargs="?", default="fullcone", help=" | ".join(NAT_KINDS))
    parser.add_argument("--name", default="manual")
    parser.add_argument("--mapping-timeout", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "up":
        if _state(args.name).exists():
            sys.exit(f"lab {args.name!r} is already up; run down first")
        lab = NatLab(tag=args.name).build(args.kind)
        if args.mapping_timeout is not None:
            lab.set_nat(args.kind, args.mapping_timeout)
        assert lab.coturn is not None
        _state(args.name).write_text(json.dumps({"workdir": lab.workdir, "coturn": lab.coturn.pid}))
        lab._procs.clear()  # coturn outlives this command; "down" stops it by its pid
        print(f"up: {lab.ns.home} / {lab.ns.router} / {lab.ns.inet}, NAT {lab.kind}, STUN 203.0.113.10:3478")
        return 0
    lab, state = _load(args.name)
    if args.command == "set":
        lab.set_nat(args.kind, args.mapping_timeout)
        print(f"NAT {lab.kind}")
    elif args.command == "drop":
        lab.drop_mapping()
        print("mappings dropped")
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(str(state["coturn"])), signal.SIGTERM)
        lab.destroy()
        _state(args.name).unlink()
        print("down")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
