"""Run nat1_traversal's forwarders in their own process (for bench/forward_bench.py).

    python3 bench/forwarder_runner.py --local 127.0.0.1:P --remote 127.0.0.1:Q [--udp] [--uvloop]

Logs at INFO (as the product does) to stderr; prints "READY" on stdout once bound;
stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nat1_traversal.forward import TcpForwarder, UdpForwarder
from nat1_traversal.model import Endpoint


def endpoint(text: str) -> Endpoint:
    host, _, port = text.rpartition(":")
    return Endpoint(ipaddress.ip_address(host.strip("[]")), int(port))


async def main(args: argparse.Namespace) -> None:
    local, remote = endpoint(args.local), endpoint(args.remote)
    forwarders: list[TcpForwarder | UdpForwarder] = []
    if args.tcp:
        forwarders.append(TcpForwarder(local, remote, proxy_protocol=args.proxy_protocol,
                                       max_connections=args.max_connections,
                                       max_per_source=args.max_connections))  # every client is 127.0.0.1
    if args.udp:
        forwarders.append(UdpForwarder(local, remote, max_sessions=args.max_sessions,
                                       max_per_source=args.max_sessions, relay=args.udp_relay))
    for fwd in forwarders:
        await fwd.start()
        if isinstance(fwd, TcpForwarder) and args.splice_after is not None:
            fwd.splice_after = args.splice_after if args.splice_after >= 0 else sys.maxsize
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("READY", flush=True)
    await stop.wait()
    for fwd in forwarders:
        await fwd.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--local", required=True)
    parser.add_argument("--remote", required=True)
    parser.add_argument("--tcp", action="store_true")
    parser.add_argument("--udp", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--proxy-protocol", choices=["v1", "v2"])
    parser.add_argument("--max-connections", type=int, default=4096)
    parser.add_argument("--max-sessions", type=int, default=4096)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--udp-relay", choices=["auto", "loop", "thread"], default="auto")
    parser.add_argument("--splice-after", type=int, help="bytes before splice (-1: never; for experiments)")
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(level=arguments.log_level, format="[%(levelname)8s] %(message)s")
    if arguments.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(main(arguments))
