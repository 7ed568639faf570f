"""The soak's world: its own NAT lab plus a knotd, a webhook receiver, game servers and the product.

Addresses (all inside the lab's namespaces)::

    home   10.0.0.2       nat1_traversal (forward mode): mcje :25565 -> 127.0.0.1:25566,
                          mcbe :19132 -> 127.0.0.1:19133; the two game servers
    inet   203.0.113.10/.11  coturn (STUN, the lab's)      203.0.113.12:80  keepalive HTTP server
           203.0.113.20   the probing player               203.0.113.30:53  knotd (example.com primary)
           203.0.113.31:8080  webhook receiver             203.0.113.40-47  players of a burst

Every process is started with ``NatLab.popen`` (its own session) and stopped by pid.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query

from tests.lab import PLAYER_IPS, STUN_IPS, NatLab

REPO = Path(__file__).resolve().parents[2]
KEEPALIVE_IP = "203.0.113.12"
KNOT_IP = "203.0.113.30"
WEBHOOK_IP = "203.0.113.31"
WEBHOOK_PORT = 8080
PROBE_IP = PLAYER_IPS[0]
BURST_IPS = [f"203.0.113.{40 + n}" for n in range(8)]
ZONE = "example.com"
SUB = "mc"
JAVA_PORT, JAVA_BACKEND = 25565, 25566
BEDROCK_PORT, BEDROCK_BACKEND = 19132, 19133
MOTDS = ("soak java", "soak bedrock")
TSIG_NAME = "nat1soak."
TSIG_SECRET = base64.b64encode(b"nat1-soak-tsig-secret-0123456789").decode()
MAPPING_RE = re.compile(r"获取到映射地址： (\d+\.\d+\.\d+\.\d+):(\d+)")
TRACEBACK = "Traceback (most recent call last)"
STUN_FILTER_TABLE = "nat1soak"

KNOT_CONF = """\
server:
    rundir: "{d}"
    listen: {ip}@53
log:
  - target: "{d}/knotd.log"
    any: info
database:
    storage: "{d}/db"
key:
  - id: {key}
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: soak_update
    key: {key}
    action: [update, transfer]
zone:
  - domain: {zone}
    storage: "{d}"
    file: "{zone}.zone"
    acl: soak_update
    zonefile-sync: -1
"""
ZONE_FILE = """\
$ORIGIN {zone}.
$TTL 60
@   SOA ns1 hostmaster 1 3600 600 86400 60
@   NS  ns1
ns1 A   {ip}
"""


def child_env() -> dict[str, str]:
    """The product's environment: the repository first, the suite's network guard kept."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "NAT1_NO_UVLOOP": "1", "NAT1_LANG": "zh"}


# --------------------------------------------------------------------------- product output


@dataclass
class Output:
    """A process's merged stdout/stderr, read by a thread, each line with its arrival time."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True, name=f"soak-out-{self.proc.pid}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                text = raw.decode("utf-8", "replace").rstrip()
                log.write(f"{time.monotonic():.2f} {text}\n")  # the soak's clock, for its timeline
                log.flush()
                with self.lock:
                    self.lines.append((time.monotonic(), text))

    def snapshot(self) -> list[tuple[float, str]]:
        with self.lock:
            return list(self.lines)

    def wait_for(self, regex: re.Pattern[str], timeout: float, where: str = "") -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _at, text in self.snapshot():
                match = regex.search(text)
                if match and where in text:
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)  # another process's output: polled, bounded by the deadline
        tail = "\n".join(text for _at, text in self.snapshot()[-40:])
        raise RuntimeError(f"{regex.pattern!r} not logged in {timeout} s:\n{tail}")


# --------------------------------------------------------------------------- webhook receiver


class Webhook:
    """The mcbe service's webhook (SPEC §5) in ``inet``; fails ``fail_fraction`` of the POSTs with 503.

    ``address()`` is what a player of the webhook's owner would be told: the data of the
    last accepted A POST and the port of the last accepted SRV POST.
    """

    def __init__(self, lab: NatLab, seed: int, fail_fraction: float) -> None:
        self.fail_fraction = fail_fraction
        self._fail_next = False
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.accepted = 0
        self.by_type: dict[str, int] = {}  # accepted POSTs per record type
        self.failed = 0
        self.ip: str | None = None
        self.port: int | None = None
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = hook.receive(body)
                reply = b'{"ok": true}' if status == 200 else b'{"error": "soak: injected failure"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:  # the base's parameter names
                return

        def make() -> ThreadingHTTPServer:
            return ThreadingHTTPServer((WEBHOOK_IP, WEBHOOK_PORT), Handler)

        self._server = lab.call_in("inet", make)  # its socket lives in inet
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="soak-webhook")
        self._thread.start()

    def set_failing(self, fraction: float) -> None:
        """Fail ``fraction`` of the requests from now on; a raised fraction fails the next one
        for sure, so that the fault bites whatever the seed draws."""
        with self._lock:
            self._fail_next = fraction > self.fail_fraction
            self.fail_fraction = fraction

    def receive(self, body: bytes) -> int:
        with self._lock:
            if self._fail_next or self._rng.random() < self.fail_fraction:
                self._fail_next = False
                self.failed += 1
                return 503
            try:
                data: Any = json.loads(body)
            except ValueError:
                return 400
            kind = str(data.get("type"))
            if kind == "A":
                self.ip = str(data.get("data"))
            elif kind == "SRV":
                self.port = int(data.get("port", 0))
            self.accepted += 1
            self.by_type[kind] = self.by_type.get(kind, 0) + 1
            return 200

    def address(self) -> tuple[str, int] | None:
        with self._lock:
            return (self.ip, self.port) if self.ip and self.port else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# --------------------------------------------------------------------------- knotd


class Knot:
    """A real knotd serving example.com at 203.0.113.30:53 in ``inet``; its journal keeps
    the updates across a stop and start. ``writes()`` counts the updates it applied (its log)."""

    def __init__(self, lab: NatLab, folder: Path) -> None:
        self.lab = lab
        self.dir = folder
        (folder / "db").mkdir(parents=True)
        self.conf = folder / "knot.conf"
        self.conf.write_text(KNOT_CONF.format(d=folder, ip=KNOT_IP, key=TSIG_NAME, secret=TSIG_SECRET, zone=ZONE))
        (folder / f"{ZONE}.zone").write_text(ZONE_FILE.format(zone=ZONE, ip=KNOT_IP))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, deadline: float = 10.0) -> None:
        self.proc = self.lab.popen("inet", ["knotd", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        end = time.monotonic() + deadline

        def ready() -> bool:
            try:
                reply = dns.query.udp(dns.message.make_query(ZONE + ".", "SOA"), KNOT_IP, timeout=0.2,
                                      source=PROBE_IP)
            except (OSError, dns.exception.DNSException):
                return False
            return bool(reply.answer)

        while not self.lab.call_in("inet", ready):
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(f"knotd did not come up; see {self.dir}/knotd.log")
            time.sleep(0.05)  # a server starting in another process: polled, bounded

    def stop(self) -> None:
        if self.proc is not None:
            self.lab.stop(self.proc)
            self.proc = None

    def writes(self) -> int:
        try:
            text = (self.dir / "knotd.log").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        return text.count("DDNS, finished")


# --------------------------------------------------------------------------- the world


@dataclass
class Product:
    """One nat1_traversal process and the services it runs (by type)."""

    name: str
    services: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    out: Output


class World:
    def __init__(self, workdir: Path, seed: int, keepalive_interval: float, webhook_fail: float,
                 mapping_timeout: int = 30) -> None:
        self.workdir = workdir
        self.keepalive_interval = keepalive_interval
        self.lab = NatLab(tag=f"soak-{os.getpid()}")
        self.env = child_env()
        self.keepalive: subprocess.Popen[bytes] | None = None
        self.knot = Knot(self.lab, workdir / "knot")
        self.webhook: Webhook | None = None
        self.products: list[Product] = []
        self._seed, self._webhook_fail, self._mapping_timeout = seed, webhook_fail, mapping_timeout

    def start(self) -> None:
        """Build the lab and start everything but the product (``close`` undoes it, also half done)."""
        self.lab.build("fullcone")
        self.lab.set_nat("fullcone", mapping_timeout=self._mapping_timeout)
        for ip in (KEEPALIVE_IP, KNOT_IP, WEBHOOK_IP, *BURST_IPS):
            self.lab.run("inet", ["ip", "addr", "add", f"{ip}/24", "dev", "i0"])
        self.start_keepalive()
        self.knot.start()
        self.webhook = Webhook(self.lab, self._seed + 1, self._webhook_fail)
        self._server("home", "mcje", "127.0.0.1", JAVA_BACKEND, MOTDS[0])
        self._server("home", "mcbe", "127.0.0.1", BEDROCK_BACKEND, MOTDS[1])

    def _server(self, ns: str, kind: str, host: str, port: int, motd: str = "") -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "tests.support.e2e_servers", kind, host, str(port)]
        if motd:
            argv.append(motd)
        proc = self.lab.popen(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env,
                              cwd=str(REPO))
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"READY":
            raise RuntimeError(f"{kind} server did not start")
        return proc

    def start_keepalive(self) -> None:
        self.keepalive = self._server("inet", "http", KEEPALIVE_IP, 80)

    def kill_keepalive(self) -> None:
        """SIGKILL, as a crashed server: its connections are reset by the kernel."""
        if self.keepalive is not None:
            os.killpg(self.keepalive.pid, signal.SIGKILL)
            self.keepalive.wait(timeout=5)
            self.lab.stop(self.keepalive)
            self.keepalive = None

    # --- the product ------------------------------------------------------------------------------

    def service_configs(self) -> dict[str, dict[str, object]]:
        stun = [f"{STUN_IPS[0]}:3478", f"{STUN_IPS[1]}:3478"]
        common: dict[str, object] = {
            "stun_tcp": stun, "stun_udp": stun, "keepalive_tcp": [f"{KEEPALIVE_IP}:80"],
            "keepalive_interval": self.keepalive_interval,
            "status": False, "reach_check": [], "upnp": False,
        }  # fmt: skip
        java: dict[str, object] = {
            "type": "mcje", "local": f":{JAVA_PORT}", "remote": f"127.0.0.1:{JAVA_BACKEND}",
            "dns": "rfc2136", "id": TSIG_NAME, "token": TSIG_SECRET, "endpoint": f"{KNOT_IP}:53",
            "domain": ZONE, "sub_domain": SUB, "ttl": 60,
        }  # fmt: skip
        bedrock: dict[str, object] = {
            "type": "mcbe", "local": f":{BEDROCK_PORT}", "remote": f"127.0.0.1:{BEDROCK_BACKEND}",
            "dns": "webhook", "id": f"http://{WEBHOOK_IP}:{WEBHOOK_PORT}/hook", "domain": ZONE, "sub_domain": SUB,
        }  # fmt: skip
        return {"common": common, "mcje": java, "mcbe": bedrock}

    def start_products(self, one_process: bool) -> None:
        parts = self.service_configs()
        if one_process:
            config = {**parts["common"], "services": [{"name": "java", **parts["mcje"]},
                                                      {"name": "bedrock", **parts["mcbe"]}]}
            self._start_product("java+bedrock", ("mcje", "mcbe"), config)
        else:
            for service in ("mcje", "mcbe"):
                self._start_product(service, (service,), {**parts["common"], **parts[service]})

    def _start_product(self, name: str, services: tuple[str, ...], config: dict[str, object]) -> None:
        folder = self.workdir / f"product-{name}"
        folder.mkdir()
        path = folder / "config.json"
        path.write_text(json.dumps(config, indent=1))
        path.chmod(0o600)
        proc = self.lab.popen("home", [sys.executable, "-m", "nat1_traversal", "-c", str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, cwd=str(folder))
        out = Output(proc, folder / "output.log")
        out.start()
        self.products.append(Product(name, services, proc, out))

    def product_of(self, service: str) -> Product:
        return next(p for p in self.products if service in p.services)

    def stop_products(self) -> dict[str, int | None]:
        """SIGTERM each product; its exit code (None if it had to be killed)."""
        codes: dict[str, int | None] = {}
        for product in self.products:
            if product.proc.poll() is None:
                os.killpg(product.proc.pid, signal.SIGTERM)
                try:
                    product.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    codes[product.name] = None
            codes.setdefault(product.name, product.proc.returncode)
            self.lab.stop(product.proc)
        return codes

    # --- faults that need the namespaces ----------------------------------------------------------

    def stun_filter(self, ip: str | None) -> None:
        """Drop every STUN packet to ``ip`` (UDP and TCP 3478-3479) in ``inet``; None lifts it."""
        script = f"table ip {STUN_FILTER_TABLE}\ndelete table ip {STUN_FILTER_TABLE}\n"
        if ip is not None:
            script += (
                f"table ip {STUN_FILTER_TABLE} {{\n"
                "  chain input {\n    type filter hook input priority filter;\n"
                f"    ip daddr {ip} udp dport 3478-3479 drop\n    ip daddr {ip} tcp dport 3478-3479 drop\n  }}\n}}\n"
            )
        self.lab.run("inet", ["nft", "-f", "-"], input=script)

    def drop_mapping(self, proto: str | None = None) -> None:
        """Forget the router's mappings of ``proto`` ("tcp"/"udp"), or of both (the lab's drop)."""
        if proto is None:
            self.lab.drop_mapping()
            return
        flush = "".join(
            f"flush {'set' if kind == 'contacted' else 'map'} ip nat1lab {kind}_{proto}\n"
            for kind in ("eim", "inbound", "contacted")
        )
        self.lab.run("router", ["nft", "-f", "-"], input=flush)
        self.lab.run("router", ["conntrack", "-D", "-p", proto], check=False)

    def link(self, up: bool) -> None:
        self.lab.run("router", ["ip", "link", "set", "r1", "up" if up else "down"])

    def close(self) -> None:
        try:
            self.stop_products()
            if self.webhook is not None:
                self.webhook.close()
            self.knot.stop()
        finally:
            self.lab.destroy()
