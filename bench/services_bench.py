"""Several services in one process (SPEC section 11): memory and idle CPU against one process each.

    python3 bench/services_bench.py [--seconds 30] [--interval 10]

This process runs fake STUN servers (UDP and TCP, a full cone NAT that maps source
port P to 198.51.100.7:P+1000) and an HTTP keepalive server on 127.0.0.1, plus the
local services: a shared-port TCP server (SO_REUSEPORT, standing in for the Java
server), and nothing behind the forward targets (idle forwarders need none). Then:

* A: one product process with three services (shared-port TCP, Bedrock forward,
  web forward) and its status server on a loopback port;
* B: three product processes, one service each, same services, each with its own
  status port.

Once every service has logged its mapping and a few seconds have passed, it reads
each process's VmRSS, then its CPU time (utime + stime) over ``--seconds`` of idle
(keepalives every ``--interval`` s). Loopback only, bounded in time; every child is
stopped by its pid. Nothing is sent beyond 127.0.0.1: reach checks and UPnP are off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nat1_traversal.model import Endpoint  # noqa: E402
from nat1_traversal.stun.codec import (  # noqa: E402
    HEADER_SIZE,
    Attribute,
    AttrType,
    Message,
    MessageClass,
    Method,
    body_length,
    decode,
    encode,
)

PUBLIC = "198.51.100.7"  # TEST-NET-2: only ever written into answers, never contacted
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answer(data: bytes, source: tuple[str, int]) -> bytes | None:
    try:
        request = decode(data)
    except Exception:
        return None
    import ipaddress

    mapped = Endpoint(ipaddress.IPv4Address(PUBLIC), (source[1] + 1000) % 64000 + 1024)
    attrs = (Attribute(AttrType.XOR_MAPPED_ADDRESS, mapped),)
    return encode(Message(Method.BINDING, MessageClass.SUCCESS, request.transaction_id, attrs))


class StunUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(data, addr)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def stun_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readexactly(HEADER_SIZE)
            body = await reader.readexactly(body_length(head))
            reply = answer(head + body, writer.get_extra_info("peername"))
            if reply is None:
                break
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def http_keepalive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def hold_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


async def start_product(config: dict[str, Any], folder: Path, name: str) -> asyncio.subprocess.Process:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("NAT1_LANG", "PYTHONPATH")}
    env["PYTHONPATH"] = str(ROOT)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nat1_traversal", "-c", str(path), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, cwd=folder)


async def wait_mapped(proc: asyncio.subprocess.Process, count: int, timeout: float = 60) -> None:
    assert proc.stderr is not None
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < count:
        line = await asyncio.wait_for(proc.stderr.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError("a product process ended before it was mapped")
        if "获取到映射地址".encode() in line:
            seen += 1
    asyncio.get_running_loop().create_task(drain(proc))


async def drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


async def stop(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


async def measure(procs: list[asyncio.subprocess.Process], seconds: float) -> tuple[int, float]:
    rss = sum(rss_kib(p.pid) for p in procs)
    before = sum(cpu_seconds(p.pid) for p in procs)
    began = time.monotonic()
    await asyncio.sleep(seconds)
    used = sum(cpu_seconds(p.pid) for p in procs) - before
    return rss, used / (time.monotonic() - began)


async def main(seconds: float, interval: float, settle: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    udp = [await loop.create_datagram_endpoint(StunUdp, local_addr=("127.0.0.1", 0)) for _ in range(2)]
    tcp = [await asyncio.start_server(stun_tcp, "127.0.0.1", 0) for _ in range(2)]
    http = await asyncio.start_server(http_keepalive, "127.0.0.1", 0)
    shared_port = free_port()
    shared = await asyncio.start_server(hold_open, "127.0.0.1", shared_port, reuse_port=True)
    common = {
        "dns": "no_dns", "upnp": False, "reach_check": False, "keepalive_interval": interval,
        "stun_udp": [f"127.0.0.1:{t[0].get_extra_info('sockname')[1]}" for t in udp],
        "stun_tcp": [f"127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in tcp],
        "keepalive_tcp": [f"127.0.0.1:{http.sockets[0].getsockname()[1]}"],
    }
    services = [
        {"name": "java", "type": "tcp", "local": f"127.0.0.1:{shared_port}"},
        {"name": "bedrock", "type": "mcbe", "local": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
         "remote": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"},
        {"name": "site", "type": "web", "local": f"127.0.0.1:{free_port()}", "remote": f"127.0.0.1:{free_port()}"},
    ]
    results: dict[str, Any] = {"seconds": seconds, "keepalive_interval": interval}
    with tempfile.TemporaryDirectory() as folder:
        procs: list[asyncio.subprocess.Process] = []
        try:
            procs = [await start_product({**common, "status": f"127.0.0.1:{free_port()}", "services": services},
                                         Path(folder), "one")]
            await wait_mapped(procs[0], 3)
            await asyncio.sleep(settle)
            rss, cpu = await measure(procs, seconds)
            results["one_process"] = {"rss_mib": round(rss / 1024, 1), "cpu_percent": round(cpu * 100, 3)}
        finally:
            await stop(procs)
        procs = []
        try:
            for service in services:
                config = {**common, **service, "status": f"127.0.0.1:{free_port()}"}
                procs.append(await start_product(config, Path(folder), str(service["name"])))
            for proc in procs:
                await wait_mapped(proc, 1)
            await asyncio.sleep(settle)
            rss, cpu = await measure(procs, seconds)
            results["three_processes"] = {"rss_mib": round(rss / 1024, 1), "cpu_percent": round(cpu * 100, 3),
                                          "rss_mib_each": [round(rss_kib(p.pid) / 1024, 1) for p in procs]}
        finally:
            await stop(procs)
    for transport, _protocol in udp:
        transport.close()
    for server in [*tcp, http, shared]:
        server.close()
        await server.wait_closed()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="idle CPU window (s)")
    parser.add_argument("--interval", type=float, default=10.0, help="keepalive_interval of the services (s)")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after mapping before measuring (s)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(min(args.seconds, 300), args.interval, args.settle)), indent=2))
