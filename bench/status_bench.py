"""Status server benchmark: /api/status latency at a steady request rate, and the process's memory.

    python3 bench/status_bench.py [--rate 50] [--seconds 20] [--services 3] [--with-forward]

A child process (this file with --serve) imports the product (nat1_traversal.app),
reports its RSS, starts the status surface on 127.0.0.1 with N services driven
through the registry (each with a day of remaps for the timeline), and serves.
This process then sends GET /api/status at a fixed rate (one connection per
request, as the server closes after each reply) and measures each reply's
latency; then a short round of /metrics and / at the same rate. Loopback only,
bounded in count and time; the child is stopped by its pid.

``--with-forward``: the child also runs the product's TCP forwarder in the same
event loop, in front of an iperf3 server; iperf3 pushes a 1 Gbit/s stream through
it twice, once while nobody polls and once while /api/status is polled at the
rate, so the run shows both the latency under load and the throughput effect.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the child

async def serve(port: int, services: int, forward: str | None) -> None:
    import nat1_traversal.app  # noqa: F401  - the product's import weight, as a daemon has it
    from nat1_traversal.config import Config
    from nat1_traversal.model import Endpoint
    from nat1_traversal.status.registry import StatusRegistry, utc_now
    from nat1_traversal.status.reporter import StatusSurface

    print(json.dumps({"rss_before_kib": rss_kib(os.getpid())}), flush=True)
    now = utc_now()
    moments = [now - timedelta(hours=23 - h) for h in range(24)]
    clock_state = {"i": 0}

    def clock():  # a day of hourly remaps first, then real time
        i = clock_state["i"]
        clock_state["i"] += 1
        return moments[i] if i < len(moments) else utc_now()

    config = Config(status=Endpoint(ipaddress.IPv4Address("127.0.0.1"), port))
    surface = StatusSurface(config)
    surface.registry = StatusRegistry("bench", clock=clock)
    kinds = [("mcje", "tcp", None), ("mcbe", "udp", "127.0.0.1:19133"), ("web", "tcp", "127.0.0.1:443")]
    for index in range(services):
        kind, proto, remote = kinds[index % len(kinds)]
        name = f"{kind}-{index}"
        surface.registry.add_service(name, type=kind, proto=proto, mode="forward" if remote else "shared",
                                     local=f"0.0.0.0:{25565 + index}", remote=remote, dns_name="mc.example.com")
    for hour in range(24 // max(1, services)):
        for index, name in enumerate(surface.registry.names):
            surface.registry.set_mapping(name, f"203.0.113.7:{40000 + hour * 10 + index}")
    for name in surface.registry.names:
        surface.registry.dns_published(name)
    await surface.start()
    forwarder = None
    if forward:
        from nat1_traversal.forward.tcp import TcpForwarder

        local, remote = (int(x) for x in forward.split(":"))
        lo = ipaddress.IPv4Address("127.0.0.1")
        forwarder = TcpForwarder(Endpoint(lo, local), Endpoint(lo, remote))
        await forwarder.start()
    print(json.dumps({"ready": True}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if forwarder is not None:
        await forwarder.aclose()
    await surface.aclose()


# --------------------------------------------------------------------------- the client

async def one_request(port: int, path: str) -> float:
    began = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    elapsed = time.perf_counter() - began
    writer.close()
    await writer.wait_closed()
    if not data.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"{path}: {data[:60]!r}")
    return elapsed


async def paced(port: int, path: str, rate: float, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_request(port, path)))
    return list(await asyncio.gather(*tasks))


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    ms = [x * 1000 for x in ordered]
    return {
        "count": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "max_ms": round(ms[-1], 2),
    }


def iperf(port: int, seconds: float) -> float:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(int(seconds)), "-b", "1G", "-J"]
    done = subprocess.run(argv, capture_output=True, timeout=seconds + 30, check=True)
    return float(json.loads(done.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


async def iperf_while_polled(forward_port: int, status_port: int, rate: float,
                             seconds: float) -> tuple[float, list[float]]:
    throughput = asyncio.create_task(asyncio.to_thread(iperf, forward_port, seconds))
    await asyncio.sleep(0.5)  # poll while the stream runs, not during its start
    latencies = await paced(status_port, "/api/status", rate, int(rate * (seconds - 1)))
    return await throughput, latencies


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--with-forward", action="store_true")
    parser.add_argument("--forward", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.services, args.forward))
        return 0
    seconds = min(args.seconds, 120.0)  # bounded whatever is asked
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NAT1_NO_UVLOOP": "1"}
    child_argv = [sys.executable, __file__, "--serve", str(port), "--services", str(args.services)]
    iperf_server = None
    if args.with_forward:
        iperf_port, forward_port = free_port(), free_port()
        iperf_server = subprocess.Popen(["iperf3", "-s", "-p", str(iperf_port)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        child_argv += ["--forward", f"{forward_port}:{iperf_port}"]
    child = subprocess.Popen(child_argv, stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert child.stdout is not None
        before = json.loads(child.stdout.readline())
        assert json.loads(child.stdout.readline()).get("ready")
        api = asyncio.run(paced(port, "/api/status", args.rate, int(args.rate * seconds)))
        metrics = asyncio.run(paced(port, "/metrics", args.rate, int(args.rate * 5)))
        page = asyncio.run(paced(port, "/", args.rate, int(args.rate * 5)))
        stat = Path(f"/proc/{child.pid}/stat").read_text().split()
        child_cpu = (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")
        result = {
            "services": args.services,
            "rate_per_s": args.rate,
            "api_status": summary(api),
            "metrics": summary(metrics),
            "page": summary(page),
            "rss_product_imported_kib": before["rss_before_kib"],
            "rss_serving_kib": rss_kib(child.pid),
            "server_cpu_total_s": round(child_cpu, 2),  # start-up (imports) included
            "python": sys.version.split()[0],
        }
        if args.with_forward:
            time.sleep(1)  # let iperf3 -s settle (it has no readiness signal)
            quiet = iperf(forward_port, seconds)
            polled, under_load = asyncio.run(iperf_while_polled(forward_port, port, args.rate, seconds))
            result["forward_1gbit"] = {
                "not_polled_gbit_s": round(quiet, 3),
                "polled_gbit_s": round(polled, 3),
                "api_status_while_forwarding": summary(under_load),
            }
        print(json.dumps(result, indent=2))
    finally:
        if iperf_server is not None:
            iperf_server.terminate()
            iperf_server.wait(5)
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
