"""Headless chromium driven over the DevTools protocol, with nothing but the standard library.

``Chromium`` starts ``/usr/bin/chromium`` with a fresh profile and the remote
debugging port on 127.0.0.1 (port 0: chromium picks one and writes it to
``DevToolsActivePort`` in the profile), then ``Page`` speaks CDP over a minimal
RFC 6455 websocket client (text frames, client masking, no extensions).
Everything stays on loopback; the flags switch off every background fetch.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, cast

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--metrics-recording-only", "--disable-breakpad", "--mute-audio",
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class WebSocket:
    """Just enough of RFC 6455 for CDP: one connection, text messages."""

    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, _, self._buffer = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    def send(self, text: str) -> None:
        payload = text.encode("utf-8")
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)  # the server does not mask
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("websocket closed by chromium")
            if opcode in (0x9, 0xA):  # ping/pong: CDP does not use them
                continue
            message += payload
            if first & 0x80:
                return message.decode("utf-8")

    def close(self) -> None:
        self.sock.close()


class Page:
    """One tab: ``call`` sends a CDP command and returns its result (events are skipped)."""

    def __init__(self, ws_url: str, timeout: float = 15.0) -> None:
        self.ws = WebSocket(ws_url, timeout)
        self._next_id = 0

    def call(self, method: str, **params: object) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        for _ in range(10_000):  # bounded: events in between are dropped
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return cast(dict[str, Any], message.get("result", {}))
        raise RuntimeError(f"{method}: no answer")

    def evaluate(self, expression: str, *, await_promise: bool = False, user_gesture: bool = False) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise, userGesture=user_gesture)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        """Poll a page expression until it is truthy, bounded in time (the page has no event for us)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"page never satisfied: {expression}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()


class Chromium:
    """A headless chromium started for one test and stopped by its pid."""

    def __init__(self, executable: str, profile: Path, url: str) -> None:
        self.profile = profile
        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--window-size=1100,800", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.port = self._debug_port(timeout=30.0)

    def _debug_port(self, timeout: float) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            if marker.exists():
                first = marker.read_text().split("\n", 1)[0].strip()
                if first.isdigit():
                    return int(first)
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its debugging port")

    def page(self, url_prefix: str, timeout: float = 15.0) -> Page:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as reply:
                targets = json.loads(reply.read())
            for target in targets:
                if target.get("type") == "page" and str(target.get("url", "")).startswith(url_prefix):
                    return Page(str(target["webSocketDebuggerUrl"]))
            time.sleep(0.1)
        raise RuntimeError("chromium shows no page for " + url_prefix)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the renderer children too
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def html_without_javascript(executable: str, profile: Path, url: str, timeout: float = 20.0) -> str:
    """The page's DOM as chromium builds it with scripts off (``--dump-dom`` needs scripts itself)."""
    with Chromium(executable, profile, "about:blank") as browser:
        page = browser.page("about:blank")
        try:
            page.call("Emulation.setScriptExecutionDisabled", value=True)
            page.call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            while True:
                root = page.call("DOM.getDocument", depth=-1)["root"]
                try:
                    html = str(page.call("DOM.getOuterHTML", nodeId=root["nodeId"])["outerHTML"])
                except RuntimeError:  # the navigation replaced the document in between: ask again
                    html = ""
                if "</main>" in html:
                    return html
                if time.monotonic() > deadline:
                    raise AssertionError("the page did not load")
                time.sleep(0.1)
        finally:
            page.close()
