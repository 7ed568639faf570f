"""A kept-alive provider connection that the other end forgot is not a failed publish.

Found by the chaos soak (issue 15): when the NAT forgets its mappings (a router reboot, a
redial), every idle keep-alive connection of the product dies with it, yet looks alive to
the client. The first webhook POST after the remap went out on that connection, was reset,
and the publish waited 2 s (then 4 s after a 503) before trying again: the new mapping reached
players seconds late. One immediate second try, on a new connection, fixes it.

The server here answers the first request of each connection and resets the connection
(RST, nothing answered) at the second, as a peer that no longer knows the flow does.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from nat1_traversal.dns.http import JsonHttp
from nat1_traversal.errors import NetworkError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


class ForgetfulPeer:
    def __init__(self) -> None:
        self.connections = 0
        self.answered = 0
        self.reset = 0
        self.reset_every_first = False  # True: even a new connection is reset (a server that is down)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        requests = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                requests += 1
                if requests > 1 or self.reset_every_first:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()  # RST: the flow is unknown here
                    self.reset += 1
                    return
                writer.write(OK)
                await writer.drain()
                self.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            return


@pytest.mark.asyncio
async def test_a_reset_keep_alive_connection_is_retried_once_on_a_new_one() -> None:
    peer = ForgetfulPeer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    http = JsonHttp("webhook", timeout=5.0)
    try:
        first = await http.request("POST", url, raw_body=b'{"type": "A"}')
        second = await http.request("POST", url, raw_body=b'{"type": "SRV"}')
    finally:
        http.close()
        server.close()
        await server.wait_closed()
    assert first.status == 200 and second.status == 200
    assert peer.reset == 1 and peer.answered == 2 and peer.connections == 2


@pytest.mark.asyncio
async def test_a_peer_that_resets_every_connection_is_still_an_error() -> None:
    peer = ForgetfulPeer()
    peer.reset_every_first = True
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    http = JsonHttp("webhook", timeout=5.0)
    try:
        with pytest.raises(NetworkError):
            await http.request("POST", url, raw_body=b"{}")
    finally:
        http.close()
        server.close()
        await server.wait_closed()
    assert peer.reset == 2, "one second try, not more"
