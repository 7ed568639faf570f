"""``python3 -m tests.soak [--duration S] [--seed N] [--interval S]`` (root): the chaos soak.

Prints a line per fault, then the figures and each goal; exit 0 when every goal is met,
1 when one is missed, 2 when it cannot run here (not root, tools missing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from tests.lab import TOOLS
from tests.soak.run import soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of faults (default 600)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule (default 1)")
    parser.add_argument("--interval", type=float, default=5.0, help="keepalive_interval of the product (default 5)")
    parser.add_argument("--webhook-fail", type=float, default=0.05, help="webhook requests failed (default 0.05)")
    parser.add_argument("--processes", choices=("auto", "one", "two"), default="auto",
                        help="one process with a services list, or one process per service (auto: one if supported)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    missing = [tool for tool in (*TOOLS, "knotd") if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        print(f"soak: needs root and {', '.join(missing) or 'the lab tools'}", file=sys.stderr)
        return 2
    one = None if args.processes == "auto" else args.processes == "one"
    figures = soak(args.duration, args.seed, args.interval, args.webhook_fail, one)
    print(figures.timeline())
    print(figures.render())
    if args.json:
        args.json.write_text(json.dumps(figures.summary(), indent=1, ensure_ascii=False))
    return 0 if figures.passed() else 1


if __name__ == "__main__":
    raise SystemExit(main())
