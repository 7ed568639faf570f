"""STUN: a pure codec (``codec``), UDP/TCP Binding transactions (``transport``) and
server-list discovery (``client``). The names other parts use are re-exported here."""

from nat1_traversal.stun.client import ServerList, first_answer
from nat1_traversal.stun.transport import (
    BindingResult,
    StunDatagramClient,
    StunDatagramProtocol,
    open_stun_datagram,
    tcp_binding,
    tcp_binding_connection,
    tcp_request,
    udp_binding,
)

__all__ = [
    "BindingResult",
    "ServerList",
    "StunDatagramClient",
    "StunDatagramProtocol",
    "first_answer",
    "open_stun_datagram",
    "tcp_binding",
    "tcp_binding_connection",
    "tcp_request",
    "udp_binding",
]
