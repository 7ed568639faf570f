"""The NAT lab: three network namespaces joined by veth pairs, a NATting router, coturn.

::

    home  10.0.0.2 (+198.51.100.2 in "open")
      | h0 -- r0
    router  10.0.0.1 | 203.0.113.1   (nftables: see rules.py)
      | r1 -- i0
    inet  203.0.113.10, .11  coturn --stun-only, ports 3478 and 3479 (RFC 5780)
          203.0.113.20, .21  players

Every name carries the pid and a counter, so parallel runs never collide. Nothing
here sends a packet outside these namespaces.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.lab.rules import NatKind, canonical_kind, flush_script, ruleset

HOME_IP = "10.0.0.2"
HOME_PUBLIC_IP = "198.51.100.2"
ROUTER_INSIDE_IP = "10.0.0.1"
ROUTER_OUTSIDE_IP = "203.0.113.1"
STUN_IPS = ("203.0.113.10", "203.0.113.11")
STUN_PORTS = (3478, 3479)
PLAYER_IPS = ("203.0.113.20", "203.0.113.21")
STUN_PRIMARY = (STUN_IPS[0], STUN_PORTS[0])

# Conntrack's own defaults, restored when a short mapping timeout is lifted.
_CT_DEFAULTS = {
    "net.netfilter.nf_conntrack_udp_timeout": 30,
    "net.netfilter.nf_conntrack_udp_timeout_stream": 120,
    "net.netfilter.nf_conntrack_tcp_timeout_established": 432000,
}
_CLONE_NEWNET = 0x40000000
_counter = itertools.count()
T = TypeVar("T")

TOOLS = ("ip", "nft", "conntrack", "turnserver")


class LabError(RuntimeError):
    pass


@dataclass(frozen=True)
class Namespaces:
    home: str
    router: str
    inet: str

    def all(self) -> tuple[str, str, str]:
        return (self.home, self.router, self.inet)


def _run(argv: Sequence[str], stdin: str | None = None) -> str:
    done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def in_netns(ns: str, func: Callable[[], T]) -> T:
    """Call ``func`` on a fresh thread that has entered network namespace ``ns``.

    Sockets created there stay in ``ns`` for life, and can be used from any thread
    (the namespace belongs to the socket, not to the thread using it). The thread
    ends afterwards, so no pooled thread is left in the wrong namespace.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{ns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def netns_socket(ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    """A socket living in namespace ``ns`` (see ``in_netns``)."""
    return in_netns(ns, lambda: socket.socket(family, kind))


class NatLab:
    """Build with ``NatLab().build()``; always ``destroy()`` (the fixture does)."""

    def __init__(self, tag: str | None = None) -> None:
        tag = tag or f"{os.getpid()}-{next(_counter)}"
        self.ns = Namespaces(f"nat1-home-{tag}", f"nat1-router-{tag}", f"nat1-inet-{tag}")
        self.kind: NatKind | None = None
        self.mapping_timeout = 60
        self.hairpin = False
        self.outside_ip = ROUTER_OUTSIDE_IP  # move_public_ip changes it (a PPPoE redial)
        self.workdir = ""
        self.coturn: subprocess.Popen[bytes] | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self.built = False

    # --- life cycle -----------------------------------------------------------------------------------

    def build(self, kind: str = "fullcone") -> NatLab:
        try:
            self._build_namespaces()
            self.set_nat(kind)
            self._start_coturn()
        except BaseException:
            self.destroy()
            raise
        return self

    def _build_namespaces(self) -> None:
        home, router, inet = self.ns.all()
        self.workdir = tempfile.mkdtemp(prefix="nat1-lab-")
        for name in self.ns.all():
            _run(["ip", "netns", "add", name])
        self.built = True
        _run(["ip", "link", "add", "h0", "netns", home, "type", "veth", "peer", "r0", "netns", router])
        _run(["ip", "link", "add", "r1", "netns", router, "type", "veth", "peer", "i0", "netns", inet])
        batches = {
            home: [
                "link set lo up",
                "link set h0 up",
                f"addr add {HOME_IP}/24 dev h0",
                f"addr add {HOME_PUBLIC_IP}/32 dev h0",
                f"route add default via {ROUTER_INSIDE_IP} src {HOME_IP}",
            ],
            router: [
                "link set lo up",
                "link set r0 up",
                "link set r1 up",
                f"addr add {ROUTER_INSIDE_IP}/24 dev r0",
                f"addr add {ROUTER_OUTSIDE_IP}/24 dev r1",
                f"route add {HOME_PUBLIC_IP}/32 dev r0",
            ],
            inet: [
                "link set lo up",
                "link set i0 up",
                *(f"addr add {ip}/24 dev i0" for ip in (*STUN_IPS, *PLAYER_IPS)),
                f"route add 198.51.100.0/24 via {ROUTER_OUTSIDE_IP}",
            ],
        }
        for name, commands in batches.items():
            _run(["ip", "-n", name, "-batch", "-"], stdin="\n".join(commands) + "\n")
        # Inside home, keep ephemeral ports clear of the router's external range (61000-65000).
        self.run("home", ["sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 60999"])
        self.run("router", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])

    def _start_coturn(self) -> None:
        log_file = os.path.join(self.workdir, "turnserver.log")
        argv = [
            "turnserver", "-n", "--stun-only", "--no-cli", "--no-tls", "--no-dtls",
            "--listening-ip", STUN_IPS[0], "--listening-ip", STUN_IPS[1],
            "--listening-port", str(STUN_PORTS[0]), "--alt-listening-port", str(STUN_PORTS[1]),
            "--log-file", log_file, "--simple-log", "--no-stdout-log",
            "--pidfile", os.path.join(self.workdir, "turnserver.pid"),
            "--db", os.path.join(self.workdir, "turndb"),
        ]  # fmt: skip
        self.coturn = self.popen("inet", argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_for_coturn()

    def _wait_for_coturn(self, deadline: float = 5.0) -> None:
        """Until every listener answers: a Binding over UDP, a TCP connect (bounded)."""
        request = bytes.fromhex("000100002112a442") + secrets.token_bytes(12)
        udp = netns_socket(self.ns.inet, socket.AF_INET, socket.SOCK_DGRAM)
        end = time.monotonic() + deadline
        try:
            udp.bind((PLAYER_IPS[1], 0))
            udp.settimeout(0.05)
            waiting = [(ip, port) for ip in STUN_IPS for port in STUN_PORTS]
            while waiting:
                if time.monotonic() > end or (self.coturn is not None and self.coturn.poll() is not None):
                    raise LabError(f"coturn did not come up; see {self.workdir}/turnserver.log")
                target = waiting[0]
                udp.sendto(request, target)
                try:
                    data, peer = udp.recvfrom(2048)
                except TimeoutError:
                    continue
                if data[8:20] == request[8:20] and peer in waiting:
                    waiting.remove(peer)
            for target in [(ip, port) for ip in STUN_IPS for port in STUN_PORTS]:
                while True:
                    tcp = netns_socket(self.ns.inet, socket.AF_INET, socket.SOCK_STREAM)
                    try:
                        tcp.settimeout(0.2)
                        tcp.connect(target)
                        break
                    except OSError:
                        if time.monotonic() > end:
                            raise LabError(f"coturn TCP {target} not listening") from None
                        time.sleep(0.02)  # bounded retry of a refused connect: no event to await
                    finally:
                        tcp.close()
        finally:
            udp.close()

    def destroy(self) -> None:
        for proc in [*self._procs]:
            self._stop(proc)
        self._procs.clear()
        if self.built:
            for name in self.ns.all():
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=10)
            self.built = False
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = ""

    def __enter__(self) -> NatLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # --- NAT behaviour --------------------------------------------------------------------------------

    def set_nat(self, kind: str, mapping_timeout: int | None = None, *, hairpin: bool = False) -> None:
        """Switch the router to ``kind``; forgets every mapping (conntrack flushed).

        ``hairpin``: the router turns inside packets to its outside address around
        (cone kinds; see rules.py)."""
        nat = canonical_kind(kind)
        timeout = mapping_timeout if mapping_timeout is not None else 60
        script = ruleset(nat, timeout, hairpin=hairpin, outside_ip=self.outside_ip)
        _run(["ip", "netns", "exec", self.ns.router, "nft", "-f", "-"], stdin=script)
        self.hairpin = hairpin
        source = HOME_PUBLIC_IP if nat == "open" else HOME_IP
        _run(["ip", "-n", self.ns.home, "route", "replace", "default", "via", ROUTER_INSIDE_IP, "src", source])
        if mapping_timeout is not None or self.mapping_timeout != 60:
            # Conntrack must not outlive the emulated mapping, or idle flows would keep it.
            values = _CT_DEFAULTS if mapping_timeout is None else dict.fromkeys(_CT_DEFAULTS, mapping_timeout)
            self.run("router", ["sysctl", "-qw", *(f"{k}={v}" for k, v in values.items())])
        self.mapping_timeout = timeout
        self.kind = nat
        self._flush_conntrack()

    def move_public_ip(self, new_ip: str) -> None:
        """A PPPoE redial: the router's outside address becomes ``new_ip`` (in
        203.0.113.0/24), every mapping and connection through it is forgotten."""
        router = self.ns.router
        # Old first: removing a primary address also removes the secondaries of its subnet.
        _run(["ip", "-n", router, "addr", "del", f"{self.outside_ip}/24", "dev", "r1"])
        _run(["ip", "-n", router, "addr", "add", f"{new_ip}/24", "dev", "r1"])
        self.outside_ip = new_ip
        kind = self.kind or "fullcone"
        script = ruleset(kind, self.mapping_timeout, hairpin=self.hairpin, outside_ip=new_ip)
        _run(["ip", "netns", "exec", router, "nft", "-f", "-"], stdin=script)
        self._flush_conntrack()

    def drop_mapping(self) -> None:
        """Forget every mapping now, as a NAT reboot or an expiry would."""
        _run(["ip", "netns", "exec", self.ns.router, "nft", "-f", "-"], stdin=flush_script())
        self._flush_conntrack()

    def _flush_conntrack(self) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.ns.router, "conntrack", "-F"],
            capture_output=True,
            check=False,
            timeout=10,
        )  # fmt: skip  (exit 1 on an empty table is fine)

    def public_ip(self) -> str:
        """The address home is seen with from the outside in the current kind."""
        return HOME_PUBLIC_IP if self.kind == "open" else self.outside_ip

    # --- processes ------------------------------------------------------------------------------------

    def _name(self, ns: str) -> str:
        return getattr(self.ns, ns) if ns in ("home", "router", "inet") else ns

    def run(
        self, ns: str, argv: Sequence[str], *, timeout: float = 30, check: bool = True, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in namespace ``ns`` ("home", "router", "inet" or a full name)."""
        done: subprocess.CompletedProcess[str] = subprocess.run(
            ["ip", "netns", "exec", self._name(ns), *argv],
            capture_output=True, text=True, timeout=timeout, check=False, **kwargs,  # type: ignore[call-overload]
        )  # fmt: skip
        if check and done.returncode != 0:
            raise LabError(f"{argv} in {ns} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def popen(self, ns: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in ``ns``; the lab stops it by pid on ``destroy`` (or call ``stop``).

        Bytes or text, as the caller's ``text=`` asks: hence ``Popen[Any]``.
        """
        proc: subprocess.Popen[Any] = subprocess.Popen(
            ["ip", "netns", "exec", self._name(ns), *argv], start_new_session=True, **kwargs
        )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any]) -> None:
        self._stop(proc)
        if proc in self._procs:
            self._procs.remove(proc)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: the group is just it
                proc.wait(timeout=3)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=3)

    def socket(self, ns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        """A socket living in namespace ``ns`` ("home", "router", "inet" or a full name)."""
        return netns_socket(self._name(ns), family, kind)

    def call_in(self, ns: str, func: Callable[[], T]) -> T:
        """Run ``func`` on a thread inside ``ns`` (e.g. ``lambda: asyncio.run(main())``)."""
        return in_netns(self._name(ns), func)
