"""Forward mode: relay TCP connections and UDP flows from ``local`` to ``remote``.

``TcpForwarder`` and ``UdpForwarder`` are independent of the NAT keeper: a remap of
the mapping never touches a live connection. The keeper shares the TCP port with
SO_REUSEADDR/SO_REUSEPORT and the UDP socket through ``UdpForwarder.send`` and the
``intercept`` hook.
"""

from __future__ import annotations

from nat1_traversal.forward.proxy_protocol import ProxyVersion, proxy_header
from nat1_traversal.forward.tcp import TcpForwarder
from nat1_traversal.forward.udp import UdpForwarder

__all__ = ["ProxyVersion", "TcpForwarder", "UdpForwarder", "proxy_header"]
