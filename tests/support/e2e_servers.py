"""Small servers run as processes inside the NAT lab (and by demo/): ``python3 -m tests.e2e_servers``.

    stun  HOST PORT         STUN Binding over UDP and TCP (reports the real source)
    stun-ignoring HOST PORT ALT_HOST
                            UDP STUN naming ALT_HOST:PORT+1 as OTHER-ADDRESS (which answers
                            plain Bindings) but answering every CHANGE-REQUEST from HOST:PORT
    http  HOST PORT         HTTP/1.1 keep-alive server for the TCP keepalive
    mcje  HOST PORT MOTD    Minecraft Java status server (asyncio, no SO_REUSEPORT of its own)
    mcbe  HOST PORT MOTD    Minecraft Bedrock unconnected-pong server (same)

Each prints ``READY`` once listening and runs until SIGTERM/SIGINT. The Minecraft
servers set no SO_REUSEPORT themselves: start them under LD_PRELOAD=hook_bind.so
for shared-port mode.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.support.keeper_fakes import FakeHttp, FakeStunTcp, FakeStunUdp
from tests.support.mcfakes import BedrockFake, JavaFake, modern, pong_string, start_bedrock


async def main(argv: list[str]) -> int:
    kind, host, port = argv[0], argv[1], int(argv[2])
    motd = argv[3] if len(argv) > 3 and kind != "stun-ignoring" else "nat1 lab server"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if kind == "stun":
        udp = await FakeStunUdp().start(host, port)
        tcp = await FakeStunTcp().start(host, port)
        print("READY", flush=True)
        await stop.wait()
        udp.close()
        await tcp.close()
    elif kind == "stun-ignoring":
        primary = await FakeStunUdp().start(host, port)
        alt = await FakeStunUdp().start(argv[3], port + 1)
        primary.alt, primary.ignore_change = alt, True
        print("READY", flush=True)
        await stop.wait()
        primary.close()
        alt.close()
    elif kind == "http":
        http = await FakeHttp().start(host, port)
        print("READY", flush=True)
        await stop.wait()
        await http.close()
    elif kind == "mcje":
        status = {
            "version": {"name": "1.21.1", "protocol": 767},
            "players": {"max": 20, "online": 1, "sample": [{"name": "Steve", "id": "0" * 32}]},
            "description": {"text": motd},
        }
        async with JavaFake(modern(status), host=host, port=port):
            print("READY", flush=True)
            await stop.wait()
    elif kind == "mcbe":
        handle = await start_bedrock(BedrockFake(pong_string(motd=motd)), host, port)
        print("READY", flush=True)
        await stop.wait()
        handle.close()
    else:
        print(f"unknown server kind {kind!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
