"""A tripwire for the suite's network rule: outside a test's own network namespace, only loopback.

Installed in the pytest process by ``tests/conftest.py`` and, through ``sitecustomize``
on ``PYTHONPATH``, in every Python child the tests start (the product's CLI among them).
While the calling thread is in the network namespace pytest started in, a connect,
sendto or name lookup towards anything but loopback (or the unspecified address, which
Linux treats as local) is refused with ``ENETUNREACH`` and recorded. A refused packet
alone could go unnoticed, because the product tries the next server, so the conftest
fails the test that caused any record.

Inside a namespace that a test made (the NAT lab), everything is allowed: those
namespaces have no route out. This module must stay self-contained: a child loads it
before anything else, without the repository on its path.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import threading
from typing import Any

_LOG_ENV = "NAT1_NETGUARD_LOG"
_ROOT_NS_ENV = "NAT1_NETGUARD_NETNS"
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""})
_SIOCGSKNS = 0x894C  # linux/sockios.h: get the socket's network namespace
_lock = threading.Lock()
_installed = False
violations: list[str] = []


def _netns() -> str:
    try:
        return os.readlink("/proc/thread-self/ns/net")
    except OSError:
        return ""


def _socket_netns(sock: socket.socket) -> str | None:
    """The namespace a socket lives in (SIOCGSKNS, Linux 4.9+; needs CAP_NET_ADMIN), else None.

    A socket made inside a lab namespace stays there whichever thread uses it later.
    """
    try:
        ns_fd = fcntl.ioctl(sock.fileno(), _SIOCGSKNS)
    except OSError:
        return None
    try:
        return f"net:[{os.fstat(ns_fd).st_ino}]"
    finally:
        os.close(ns_fd)


def _in_root_namespace(sock: socket.socket | None = None) -> bool:
    root = os.environ.get(_ROOT_NS_ENV, "")
    if not root:
        return False
    where = _socket_netns(sock) if sock is not None else None
    return (where or _netns()) == root


def _allowed_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None:
        return True
    if not isinstance(host, str):
        return True
    name = host.split("%", 1)[0].strip("[]").lower().rstrip(".")
    if name in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _forbidden_everywhere(host: object) -> bool:
    """The product's public defaults named in NAT1_NETGUARD_FORBIDDEN (the built-in reach
    checkers): refused in the lab's namespaces too, where nothing else is."""
    names = [n for n in os.environ.get("NAT1_NETGUARD_FORBIDDEN", "").split(",") if n]
    return isinstance(host, str) and host.lower().rstrip(".") in names


def _check(what: str, host: object, port: object = None, sock: socket.socket | None = None) -> None:
    if not _forbidden_everywhere(host) and (_allowed_host(host) or not _in_root_namespace(sock)):
        return
    line = f"{what} {host!r}:{port!r} from the host's own network namespace (pid {os.getpid()})"
    with _lock:
        violations.append(line)
    path = os.environ.get(_LOG_ENV)
    if path:
        try:
            with open(path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
        except OSError:
            pass
    raise OSError(errno.ENETUNREACH, "blocked by the test suite's network guard: " + line)


def _target(address: Any) -> tuple[object, object]:
    if isinstance(address, tuple) and address:
        return address[0], (address[1] if len(address) > 1 else None)
    return None, None  # AF_UNIX paths and the like


def install(root_netns: str | None = None) -> None:
    """Wrap socket.connect/connect_ex/sendto and getaddrinfo (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    if root_netns is not None:
        os.environ[_ROOT_NS_ENV] = root_netns
    base = socket.socket
    real_connect, real_connect_ex, real_sendto = base.connect, base.connect_ex, base.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check("connect", *_target(address), sock=self)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check("connect", *_target(address), sock=self)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and args:
            _check("sendto", *_target(args[-1]), sock=self)
        return real_sendto(self, data, *args)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        _check("getaddrinfo", host, port)
        return real_getaddrinfo(host, port, *args, **kwargs)

    base.connect = connect  # type: ignore[method-assign,assignment]
    base.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    base.sendto = sendto  # type: ignore[assignment]
    socket.getaddrinfo = getaddrinfo
