"""A port-check service for the lab's ``inet``: ``python3 -m tests.lab.portcheck HOST PORT``.

It answers like the public checkers the product knows, and really connects back:

    GET /check/<ip>/<port>/<proto>   tests ip:port (tcp: a connect; udp: a Bedrock
                                     unconnected ping) -> "1" or "0"
    GET /<port>                      tests the requester's address over TCP -> "1"/"0"
                                     (like Transmission's portcheck)
    GET /port/<port>                 the same as JSON {"ip", "port", "reachable"}
                                     (like ifconfig.co)

Every answer is ``200`` with ``Connection: close``; a connect-back gets ``CONNECT_TIMEOUT``
seconds. The log on stdout (one line per check: ``CHECK <ip> <port> <proto> <0|1>``)
lets a test count checks. Prints ``READY`` once listening; runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time

CONNECT_TIMEOUT = 3.0
SOURCE_IP = "0.0.0.0"  # set to the service's own address: inet has many, the first is a STUN server's
# RakNet unconnected ping: id 0x01, time, the offline-message magic, a client GUID.
RAKNET_MAGIC = bytes.fromhex("00ffff00fefefefefdfdfdfd12345678")


async def tcp_open(ip: str, port: int) -> bool:
    try:
        connecting = asyncio.open_connection(ip, port, local_addr=(SOURCE_IP, 0))
        _reader, writer = await asyncio.wait_for(connecting, CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class _Pong(asyncio.DatagramProtocol):
    def __init__(self, got: asyncio.Future[bool]) -> None:
        self.got = got

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data[:1] == b"\x1c" and not self.got.done():
            self.got.set_result(True)


async def bedrock_open(ip: str, port: int) -> bool:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bool] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Pong(got), local_addr=(SOURCE_IP, 0), remote_addr=(ip, port)
    )
    ping = b"\x01" + int(time.time() * 1000).to_bytes(8, "big") + RAKNET_MAGIC + os.urandom(8)
    try:
        for _ in range(3):
            transport.sendto(ping)
            done, _pending = await asyncio.wait({got}, timeout=CONNECT_TIMEOUT / 3)
            if done:
                return True
        return False
    finally:
        transport.close()


async def test(ip: str, port: int, proto: str) -> bool:
    result = await (bedrock_open(ip, port) if proto == "udp" else tcp_open(ip, port))
    print(f"CHECK {ip} {port} {proto} {int(result)}", flush=True)
    return result


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = parts[1] if len(parts) >= 2 else "/"
        requester = str(writer.get_extra_info("peername")[0])
        segments = [part for part in path.split("?", 1)[0].split("/") if part]
        body: bytes
        if len(segments) == 4 and segments[0] == "check":
            body = b"1" if await test(segments[1], int(segments[2]), segments[3]) else b"0"
        elif len(segments) == 2 and segments[0] == "port":
            port = int(segments[1])
            reachable = await test(requester, port, "tcp")
            body = json.dumps({"ip": requester, "port": port, "reachable": reachable}).encode()
        elif len(segments) == 1 and segments[0].isdigit():
            body = b"1" if await test(requester, int(segments[0]), "tcp") else b"0"
        else:
            body = b"?"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def main(host: str, port: int) -> None:
    global SOURCE_IP
    SOURCE_IP = host
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(handle, host, port)
    print("READY", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
