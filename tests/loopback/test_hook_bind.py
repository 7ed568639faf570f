"""hook_bind.so: the LD_PRELOAD library behind shared-port mode (SPEC §1, §8).

Everything here runs on loopback only.  The library is built with ``make`` into a
temp dir; the Java helpers in ``tests/java`` are compiled into a temp dir too.
Each test proves both sides where it can: the hooked process shares its port,
the same process without the hook does not (so a broken hook fails the test).
"""

from __future__ import annotations

import errno
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.ci import require_root_tools

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD hook is Linux-only")

REPO = Path(__file__).resolve().parents[2]
HOOK_DIR = REPO / "hook_bind"
WRAPPER = HOOK_DIR / "java-with-hook.sh"
JAVA_SOURCES = REPO / "tests" / "java"
LOOPBACK = "127.0.0.1"
HOOK_ENV = ("LD_PRELOAD", "NAT1_HOOK_PORTS", "NAT1_HOOK_QUIET", "NAT1_HOOK_SO", "NAT1_REAL_JAVA")
# Small, fast JVMs: the helpers do almost nothing.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m")
READY_TIMEOUT = 30.0
IO_TIMEOUT = 5.0
LOG_RE = re.compile(r"Hooked bind: PID=(\d+), FD=(\d+), setsockopt SO_REUSEPORT")

# A service that binds and (for TCP) listens WITHOUT SO_REUSEPORT, reports what its
# socket ended up with ("READY <SO_REUSEPORT> <SO_REUSEADDR>"), then answers TCP connections with "child" and echoes UDP
# datagrams as "child:<payload>".  It exits when stdin closes or after 30 s idle.
CHILD_SCRIPT = r"""
import select, socket, sys
proto, port = sys.argv[1], int(sys.argv[2])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", port))
if kind == socket.SOCK_STREAM:
    s.listen(16)
opts = [s.getsockopt(socket.SOL_SOCKET, o) for o in (socket.SO_REUSEPORT, socket.SO_REUSEADDR)]
print("READY", *opts, flush=True)
while True:
    ready, _, _ = select.select([s, sys.stdin], [], [], 30)
    if not ready or sys.stdin in ready:
        break
    if kind == socket.SOCK_STREAM:
        conn, _ = s.accept()
        conn.sendall(b"child\n")
        conn.close()
    else:
        data, peer = s.recvfrom(2048)
        s.sendto(b"child:" + data, peer)
"""

# Binds one TCP socket per port argument and prints {port: SO_REUSEPORT} as JSON.
PORTS_PROBE_SCRIPT = r"""
import json, socket, sys
result, keep = {}, []
for arg in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(arg)))
    keep.append(s)
    result[arg] = s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
print(json.dumps(result), flush=True)
"""

# Calls bind(2) in awkward ways and prints "<case> <fd> <rc> <errno>" for each, with
# errno preset to EXDEV before every call, so runs with and without the hook can be
# compared line by line.  With --deny-setsockopt a seccomp filter makes every
# setsockopt(2) fail with EACCES: the hook's failure must stay invisible.
ERRNO_PROBE_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static void deny_setsockopt(void)
{
    /* test-only filter: no arch check, this binary runs natively */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(code) / sizeof(code[0])), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        exit(2);
    }
}

static struct sockaddr_in v4(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void report(const char *name, int fd, const void *addr, socklen_t len)
{
    int rc, err;
    errno = EXDEV;
    rc = bind(fd, (const struct sockaddr *)addr, len);
    err = errno;
    printf("%s %d %d %d\n", name, fd, rc, err);
}

int main(int argc, char **argv)
{
    int free_port, busy_port, other_port;
    struct sockaddr_in a;
    struct sockaddr_in6 a6;
    struct sockaddr_un un;

    if (argc != 6) {
        fprintf(stderr, "usage: probe FREE BUSY OTHER UNIX_PATH allow|--deny-setsockopt\n");
        return 2;
    }
    free_port = atoi(argv[1]);
    busy_port = atoi(argv[2]);
    other_port = atoi(argv[3]);
    if (strcmp(argv[5], "--deny-setsockopt") == 0)
        deny_setsockopt();

    a = v4(free_port);
    report("tcp_free", socket(AF_INET, SOCK_STREAM, 0), &a, sizeof(a));
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((unsigned short)free_port);
    a6.sin6_addr = in6addr_loopback;
    report("udp6_free", socket(AF_INET6, SOCK_DGRAM, 0), &a6, sizeof(a6));
    a = v4(busy_port);
    report("tcp_busy", socket(AF_INET, SOCK_STREAM, 0), &a, sizeof(a));
    report("null_addr", socket(AF_INET, SOCK_STREAM, 0), NULL, 0);
    report("null_addr_len", socket(AF_INET, SOCK_STREAM, 0), NULL, sizeof(a));
    a = v4(other_port);
    report("short_len", socket(AF_INET, SOCK_STREAM, 0), &a, 8);
    a = v4(0);
    report("port_zero", socket(AF_INET, SOCK_STREAM, 0), &a, sizeof(a));
    a = v4(other_port);
    report("unix_given_inet_addr", socket(AF_UNIX, SOCK_STREAM, 0), &a, sizeof(a));
    report("not_a_socket", open("/dev/null", O_RDONLY), &a, sizeof(a));
    report("bad_fd", 987, &a, sizeof(a));
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strncpy(un.sun_path, argv[4], sizeof(un.sun_path) - 1);
    report("unix_path", socket(AF_UNIX, SOCK_STREAM, 0), &un, sizeof(un));
    return 0;
}
"""
HOOKED_CASES = ("tcp_free", "udp6_free", "tcp_busy")


# ---------------------------------------------------------------- helpers


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HOOK_ENV}
    env.update(extra)
    return env


def free_ports(kind: socket.SocketKind, count: int = 1) -> list[int]:
    """Distinct ports free on 127.0.0.1 right now (held together, then released)."""
    held = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for s in held:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def sharing_socket(kind: socket.SocketKind) -> socket.socket:
    """Our side of shared-port mode: SO_REUSEADDR + SO_REUSEPORT, not yet bound."""
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.settimeout(IO_TIMEOUT)
    return s


def udp_peer() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOPBACK, 0))
    s.settimeout(IO_TIMEOUT)
    return s


def hook_lines(text: str) -> list[tuple[int, int]]:
    """(pid, fd) of every hook log line; any malformed hook line fails the test."""
    found = []
    for line in text.splitlines():
        if line.startswith("Hooked bind"):
            match = LOG_RE.fullmatch(line)
            assert match is not None, f"malformed hook line: {line!r}"
            found.append((int(match.group(1)), int(match.group(2))))
    return found


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    stderr_path: Path
    ready: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str:
        """Block until the process prints a READY line on stdout; return the rest of it."""
        stdout = self.popen.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(deadline - time.monotonic()):
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines(keepends=True):
                    if line.startswith("READY") and line.endswith("\n"):
                        self.ready = line[len("READY") :].strip()
                        return self.ready
        self.popen.poll()
        pytest.fail(f"pid {self.pid} not ready (rc={self.popen.returncode}) stdout={buffer!r} stderr={self.stderr()!r}")


def stop(proc: Proc) -> None:
    popen = proc.popen
    if popen.stdin is not None:
        popen.stdin.close()
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)
    if popen.stdout is not None:
        popen.stdout.close()


Starter = Callable[..., Proc]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Starter]:
    """start(argv, env) -> Proc; every process is stopped by pid at teardown."""
    procs: list[Proc] = []

    def _start(argv: list[str], env: dict[str, str]) -> Proc:
        stderr_path = tmp_path / f"stderr-{len(procs)}.txt"
        with stderr_path.open("wb") as err:
            popen = subprocess.Popen(
                argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=tmp_path
            )
        proc = Proc(popen, stderr_path)
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        stop(proc)


@pytest.fixture(scope="module")
def hook_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("make", "gcc", root=False)
    out = tmp_path_factory.mktemp("hook") / "hook_bind.so"
    build = subprocess.run(
        ["make", "-C", str(HOOK_DIR), f"OUT={out}"], capture_output=True, text=True, timeout=120, check=False
    )
    assert build.returncode == 0, build.stdout + build.stderr
    for flag in ("-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"):
        assert flag in build.stdout
    assert out.is_file()
    return out


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_root_tools("java", "javac", root=False)
    out = tmp_path_factory.mktemp("java")
    sources = sorted(str(p) for p in JAVA_SOURCES.glob("*.java"))
    build = subprocess.run(
        ["javac", "-Xlint:all", "-Werror", "-d", str(out), *sources],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def start_child(start: Starter, hook_so: Path | None, proto: str, port: int, **env: str) -> Proc:
    if hook_so is not None:
        env["LD_PRELOAD"] = str(hook_so)
    proc = start([sys.executable, "-c", CHILD_SCRIPT, proto, str(port)], clean_env(**env))
    proc.wait_ready(timeout=15)
    return proc


# ---------------------------------------------------------------- library shape


def test_exports_only_bind(hook_so: Path) -> None:
    require_root_tools("nm", root=False)
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(hook_so)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    functions = {line.split()[-1] for line in out.splitlines() if line.split()[1:2] in (["T"], ["W"])}
    assert functions == {"bind"}


# ---------------------------------------------------------------- port sharing


@pytest.mark.parametrize("hooked", [True, False], ids=["hooked", "plain"])
def test_tcp_listener_shares_port(hook_so: Path, start: Starter, hooked: bool) -> None:
    (port,) = free_ports(socket.SOCK_STREAM)
    child = start_child(start, hook_so if hooked else None, "tcp", port)
    ours = sharing_socket(socket.SOCK_STREAM)
    with ours:
        if not hooked:
            assert child.ready == "0 0"
            with pytest.raises(OSError) as caught:
                ours.bind((LOOPBACK, port))
            assert caught.value.errno == errno.EADDRINUSE
            assert hook_lines(child.stderr()) == []
            return
        assert child.ready == "1 1"  # TCP also gets SO_REUSEADDR
        ours.bind((LOOPBACK, port))
        # Incoming connections still reach the service: we only bind, never listen.
        with socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT) as client:
            assert client.makefile("rb").readline() == b"child\n"
        # ... and we can dial out from the shared port (how a TCP STUN check works).
        with socket.create_server((LOOPBACK, 0)) as server:
            server.settimeout(IO_TIMEOUT)
            ours.connect(server.getsockname())
            accepted, peer = server.accept()
            accepted.close()
        assert peer == (LOOPBACK, port)
    assert [pid for pid, _ in hook_lines(child.stderr())] == [child.pid]


@pytest.mark.parametrize("hooked", [True, False], ids=["hooked", "plain"])
def test_udp_socket_shares_port_and_connected_socket_wins(hook_so: Path, start: Starter, hooked: bool) -> None:
    (port,) = free_ports(socket.SOCK_DGRAM)
    child = start_child(start, hook_so if hooked else None, "udp", port)
    ours = sharing_socket(socket.SOCK_DGRAM)
    with ours:
        if not hooked:
            assert child.ready == "0 0"
            with pytest.raises(OSError) as caught:
                ours.bind((LOOPBACK, port))
            assert caught.value.errno == errno.EADDRINUSE
            return
        assert child.ready == "1 0"  # SO_REUSEADDR is for TCP only
        ours.bind((LOOPBACK, port))
        with udp_peer() as stun, udp_peer() as player:
            assert_connected_udp_rule(ours, port, stun, player, echo_prefix=b"child:")
    assert [pid for pid, _ in hook_lines(child.stderr())] == [child.pid]


def assert_connected_udp_rule(
    ours: socket.socket, port: int, stun: socket.socket, player: socket.socket, echo_prefix: bytes
) -> None:
    """SPEC §1: our socket, connect()ed to the STUN peer, gets that peer's datagrams;
    every other peer still reaches the service sharing the port."""
    ours.connect(stun.getsockname())
    count = 10
    for i in range(count):
        stun.sendto(b"stun %d" % i, (LOOPBACK, port))
    for i in range(count):
        player.sendto(b"player %d" % i, (LOOPBACK, port))
    assert [ours.recv(2048) for _ in range(count)] == [b"stun %d" % i for i in range(count)]
    assert [player.recvfrom(2048) for _ in range(count)] == [
        (echo_prefix + b"player %d" % i, (LOOPBACK, port)) for i in range(count)
    ]
    # The service answers in arrival order and the STUN datagrams were sent first, so
    # had it received any of them, their echoes would already be queued here.
    stun.setblocking(False)
    with pytest.raises(BlockingIOError):
        stun.recv(2048)
    stun.settimeout(IO_TIMEOUT)
    # Keepalives leave from the shared port.
    ours.send(b"keepalive")
    assert stun.recvfrom(2048) == (b"keepalive", (LOOPBACK, port))


# ---------------------------------------------------------------- NAT1_HOOK_PORTS / quiet


@pytest.mark.parametrize(
    ("ports_env", "touched"),
    [
        (None, {0, 1, 2}),
        ("", {0, 1, 2}),
        ("{1}", {1}),
        (" {0} ,{2}", {0, 2}),
        ("junk,70000,0,-5,,{1}x,{0} {1}, {2} ", {2}),
        ("junk", set()),
    ],
    ids=["unset", "empty", "one", "blanks", "invalid-ignored", "nothing-valid"],
)
def test_hook_ports_filter(hook_so: Path, ports_env: str | None, touched: set[int]) -> None:
    ports = free_ports(socket.SOCK_STREAM, 3)
    env = clean_env(LD_PRELOAD=str(hook_so))
    if ports_env is not None:
        env["NAT1_HOOK_PORTS"] = ports_env.format(*ports)
    result = subprocess.run(
        [sys.executable, "-c", PORTS_PROBE_SCRIPT, *map(str, ports)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    reuseport = json.loads(result.stdout)
    assert reuseport == {str(port): int(i in touched) for i, port in enumerate(ports)}
    assert len(hook_lines(result.stderr)) == len(touched)


def test_quiet_hooks_without_logging(hook_so: Path) -> None:
    (port,) = free_ports(socket.SOCK_STREAM)
    result = subprocess.run(
        [sys.executable, "-c", PORTS_PROBE_SCRIPT, str(port)],
        env=clean_env(LD_PRELOAD=str(hook_so), NAT1_HOOK_QUIET="1"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout) == {str(port): 1}
    assert result.stderr == ""


# ---------------------------------------------------------------- result and errno


@pytest.fixture(scope="module")
def errno_probe(tmp_path_factory: pytest.TempPathFactory, hook_so: Path) -> Path:
    workdir = tmp_path_factory.mktemp("probe")
    source = workdir / "errno_probe.c"
    source.write_text(ERRNO_PROBE_C)
    binary = workdir / "errno_probe"
    subprocess.run(
        ["gcc", "-Wall", "-Wextra", "-Werror", "-O1", "-o", str(binary), str(source)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    return binary


def test_bind_result_and_errno_unchanged(errno_probe: Path, hook_so: Path, tmp_path: Path) -> None:
    """Every bind() returns exactly what it returns without the hook, errno included,
    even when the hook's own setsockopt calls fail (denied by seccomp)."""
    with socket.create_server((LOOPBACK, 0)) as busy:  # held exclusively: no SO_REUSEPORT
        busy_port = busy.getsockname()[1]
        runs = {}
        for name, env, mode in [
            ("plain", clean_env(), "allow"),
            ("hooked", clean_env(LD_PRELOAD=str(hook_so)), "allow"),
            ("denied", clean_env(LD_PRELOAD=str(hook_so)), "--deny-setsockopt"),
        ]:
            free_port, other_port = free_ports(socket.SOCK_STREAM, 2)
            unix_path = tmp_path / f"{name}.sock"
            run = subprocess.run(
                [str(errno_probe), str(free_port), str(busy_port), str(other_port), str(unix_path), mode],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert run.returncode == 0, run.stderr
            runs[name] = (run.stdout, run.stderr)

    def table(stdout: str) -> dict[str, tuple[int, int, int]]:
        rows = [line.split() for line in stdout.splitlines()]
        return {case: (int(fd), int(rc), int(err)) for case, fd, rc, err in rows}

    plain = table(runs["plain"][0])
    assert plain["tcp_free"][1:] == (0, errno.EXDEV)  # success leaves errno alone
    assert plain["tcp_busy"][1:] == (-1, errno.EADDRINUSE)
    assert plain["unix_path"][1:] == (0, errno.EXDEV)
    assert plain["bad_fd"][1:] == (-1, errno.EBADF)
    for name in ("hooked", "denied"):
        assert table(runs[name][0]) == plain, name

    expected_fds = [plain[case][0] for case in HOOKED_CASES if plain[case][0] >= 0]
    hooked_log = runs["hooked"][1]
    assert [fd for _, fd in hook_lines(hooked_log)] == expected_fds
    assert "failed" not in hooked_log
    # A failed setsockopt is reported on stderr, never to the caller.
    suffix = f" failed, errno={errno.EACCES}"
    denied_lines = runs["denied"][1].splitlines()
    assert all(line.endswith(suffix) for line in denied_lines)
    assert [fd for _, fd in hook_lines("\n".join(line.removesuffix(suffix) for line in denied_lines))] == (expected_fds)


# ---------------------------------------------------------------- a real JVM


def java_argv(classes: Path, main: str, port: int, tag: str) -> list[str]:
    return [*JVM_FLAGS, "-cp", str(classes), main, LOOPBACK, str(port), tag]


def test_two_jvms_and_ours_share_a_tcp_port(hook_so: Path, java_classes: Path, start: Starter, tmp_path: Path) -> None:
    (port,) = free_ports(socket.SOCK_STREAM)
    direct = start(["java", *java_argv(java_classes, "LineServer", port, "one")], clean_env(LD_PRELOAD=str(hook_so)))
    # The second JVM goes through the panel wrapper, found as `java` on PATH.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(WRAPPER)
    wrapped_env = clean_env(NAT1_HOOK_SO=str(hook_so))
    wrapped_env["PATH"] = f"{bin_dir}{os.pathsep}{wrapped_env.get('PATH', '')}"
    wrapped = start(["java", *java_argv(java_classes, "LineServer", port, "two")], wrapped_env)
    for jvm in (direct, wrapped):
        assert jvm.wait_ready() == str(port)

    with sharing_socket(socket.SOCK_STREAM) as ours:
        ours.bind((LOOPBACK, port))
        with socket.create_server((LOOPBACK, 0)) as server:
            server.settimeout(IO_TIMEOUT)
            ours.connect(server.getsockname())
            accepted, peer = server.accept()
            accepted.close()
        assert peer == (LOOPBACK, port)

        # Connections spread over both JVMs by the reuseport hash; none reach us.
        tags = []
        for i in range(32):
            with socket.create_connection((LOOPBACK, port), timeout=IO_TIMEOUT) as client:
                client.sendall(b"ping %d\n" % i)
                tag, _, rest = client.makefile("rb").readline().decode().rstrip("\n").partition(" ")
                assert rest == f"ping {i}"
                tags.append(tag)
        assert set(tags) == {"one", "two"}

    # exec in the wrapper: the JVM keeps the pid the panel started.
    for jvm in (direct, wrapped):
        assert jvm.pid in [pid for pid, _ in hook_lines(jvm.stderr())]


def test_jvm_udp_port_shared_with_connected_socket(hook_so: Path, java_classes: Path, start: Starter) -> None:
    (port,) = free_ports(socket.SOCK_DGRAM)
    jvm = start(["java", *java_argv(java_classes, "UdpEcho", port, "jvm")], clean_env(LD_PRELOAD=str(hook_so)))
    assert jvm.wait_ready() == str(port)
    with sharing_socket(socket.SOCK_DGRAM) as ours, udp_peer() as stun, udp_peer() as player:
        ours.bind((LOOPBACK, port))
        assert_connected_udp_rule(ours, port, stun, player, echo_prefix=b"jvm:")
    assert jvm.pid in [pid for pid, _ in hook_lines(jvm.stderr())]
