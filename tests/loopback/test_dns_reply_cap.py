"""A provider reply is read up to 1 MiB and no further (issue 15: a 400 MB reply took 1.6 GB).

The server here streams an endless body without Content-Length; the client must stop reading
after the cap, with a clear provider error, while the server is still sending.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from nat1_traversal.dns.http import JsonHttp
from nat1_traversal.dns.sdk import MAX_REPLY_BYTES, ReplyTooLarge

CHUNK = b"0," * 32768  # 64 KiB
LIMIT_SENT = 64 * MAX_REPLY_BYTES  # the server gives up after 64 MiB: far beyond the cap


class EndlessReply:
    def __init__(self, declared: int | None) -> None:
        self.declared = declared
        self.sent = 0
        self.done = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            length = f"Content-Length: {self.declared}\r\n" if self.declared is not None else ""
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}"
                         "Connection: close\r\n\r\n[".encode())
            while self.sent < LIMIT_SENT:
                writer.write(CHUNK)
                await writer.drain()
                self.sent += len(CHUNK)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.done.set()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.mark.asyncio
@pytest.mark.parametrize("declared", [None, 400 * MAX_REPLY_BYTES])
async def test_an_endless_reply_is_cut_at_the_cap(declared: int | None) -> None:
    endless = EndlessReply(declared)
    server = await asyncio.start_server(endless.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = JsonHttp("test-provider", timeout=10.0)
    try:
        with pytest.raises(ReplyTooLarge) as caught:
            await http.request("GET", f"http://127.0.0.1:{port}/zones")
        http.close()
        await asyncio.wait_for(endless.done.wait(), 10)
    finally:
        http.close()
        server.close()
        await server.wait_closed()
    assert "test-provider" in str(caught.value) and "1024 KiB" in str(caught.value)
    # Socket buffers hold a few MiB at most; the client stopped long before the server did.
    assert endless.sent < LIMIT_SENT
    if declared is not None:
        assert endless.sent <= 16 * MAX_REPLY_BYTES  # refused on the header, before reading the body
