"""The product's CLI as a process inside the NAT lab, its output read by a thread with timestamps,
and the small servers of ``tests.support.e2e_servers`` started in a namespace."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import NatLab

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NAT1_NO_UVLOOP": "1", "NAT1_LANG": "zh"}
MAPPING_RE = re.compile(r"获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")


@dataclass
class Line:
    at: float
    text: str


@dataclass
class LabCli:
    proc: subprocess.Popen[bytes]
    lines: list[Line] = field(default_factory=list)
    _queue: queue.Queue[Line | None] = field(default_factory=queue.Queue)

    def start_reader(self) -> None:
        def read() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                self._queue.put(Line(time.monotonic(), raw.decode("utf-8", "replace").rstrip()))
            self._queue.put(None)

        threading.Thread(target=read, daemon=True, name="lab-cli-reader").start()

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float, after: int = 0) -> tuple[Line, re.Match[str]]:
        """The first line from index ``after`` on that matches (bounded wait)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        for line in self.lines[after:]:
            match = regex.search(line.text)
            if match:
                return line, match
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{regex.pattern!r} not logged in {timeout}s:\n" + self.dump())
            try:
                got = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if got is None:
                raise AssertionError(f"process ended before {regex.pattern!r}:\n" + self.dump())
            self.lines.append(got)
            match = regex.search(got.text)
            if match:
                return got, match

    def count(self, text: str) -> int:
        return sum(text in line.text for line in self.lines)

    def dump(self) -> str:
        return "\n".join(line.text for line in self.lines[-80:])

    def stop(self, lab: NatLab) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        lab.stop(self.proc)
        return self.proc.returncode


def start_cli(lab: NatLab, config: dict[str, object], folder: Path, *args: str) -> LabCli:
    path = folder / "config.json"
    path.write_text(json.dumps({"status": False, **config}))  # no status server unless the test asks
    proc = lab.popen(
        "home",
        [sys.executable, "-m", "nat1_traversal", "-c", str(path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, cwd=str(folder),
    )  # fmt: skip
    run = LabCli(proc)
    run.start_reader()
    return run


def start_server(lab: NatLab, ns: str, kind: str, host: str, port: int, motd: str = "") -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tests.support.e2e_servers", kind, host, str(port)]
    if motd:
        argv.append(motd)
    proc = lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV, cwd=str(REPO))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"READY", f"{kind} server did not start"
    return proc
