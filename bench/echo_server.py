"""Echo servers for bench/forward_bench.py (loopback only).

    python3 bench/echo_server.py tcp PORT   # asyncio Protocol echo (uvloop when installed)
    python3 bench/echo_server.py udp PORT   # plain blocking recvfrom_into/sendto loop

Prints "READY" once listening; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close after the echo is flushed


async def tcp(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", port, backlog=1024)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


def udp(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    buf = bytearray(65536)
    view = memoryview(buf)
    print("READY", flush=True)
    recv, send = sock.recvfrom_into, sock.sendto
    while True:
        n, addr = recv(buf)
        send(view[:n], addr)


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    kind, port_text = sys.argv[1], sys.argv[2]
    if kind == "udp":
        udp(int(port_text))
    else:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(tcp(int(port_text)))
