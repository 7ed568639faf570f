"""PCP and NAT-PMP over UDP to the gateway's port 5351: open, renew, delete one forward."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import time

from nat1_traversal.errors import NetworkError, PortmapError
from nat1_traversal.portmap import natpmp, netio, pcp
from nat1_traversal.portmap.model import SERVER_PORT, EpochClock, Forward, Method, Proto

log = logging.getLogger(__name__)


def stable_nonce(name: str, proto: Proto, port: int, own: ipaddress.IPv4Address) -> bytes:
    """A PCP nonce that a restarted run can recompute, so it may refresh or delete what a crashed run left.

    RFC 6887 §11.1 wants the nonce unguessable to others: it is keyed with the
    machine's own secret id (``/etc/machine-id``), or random when there is none.
    """
    try:
        with open("/etc/machine-id", "rb") as machine:
            key = machine.read().strip()
    except OSError:
        key = b""
    if not key:
        return secrets.token_bytes(pcp.NONCE_LEN)
    data = f"nat1_traversal {name} {proto} {port} {own}".encode()
    return hashlib.blake2b(data, key=key[:64], digest_size=pcp.NONCE_LEN).digest()


class UdpMapper:
    """Common life of a PCP / NAT-PMP forward: ``open``/``renew`` send the same request."""

    method: Method

    def __init__(self, gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address, proto: Proto, port: int,
                 *, deadline: float = 2.0) -> None:  # fmt: skip
        self.gateway, self.own, self.proto, self.port = gateway, own, proto, port
        self.deadline = deadline
        self.epoch = EpochClock()
        self.lost = False  # the last answer's epoch says the gateway rebooted
        self.external_ip: ipaddress.IPv4Address | None = None

    @property
    def peer(self) -> netio.Address:
        return (str(self.gateway), SERVER_PORT)

    def _observe(self, epoch: int) -> None:
        self.lost = self.epoch.observe(epoch, time.monotonic())


class PcpMapper(UdpMapper):
    method: Method = "PCP"

    def __init__(self, gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address, proto: Proto, port: int,
                 *, nonce: bytes, deadline: float = 2.0) -> None:  # fmt: skip
        super().__init__(gateway, own, proto, port, deadline=deadline)
        self.nonce = nonce

    def _request(self, lifetime: int) -> pcp.MapRequest:
        external = self.port if lifetime else 0
        return pcp.MapRequest(self.nonce, self.proto, self.own, self.port, external, lifetime)

    async def _send(self, lifetime: int) -> pcp.MapResponse:
        request = self._request(lifetime)
        response = await netio.udp_exchange(
            self.peer, pcp.encode_map(request), lambda data: pcp.decode_map(data, request),
            method=self.method, deadline=self.deadline,
        )  # fmt: skip
        self._observe(response.epoch)
        return pcp.check_result(response)

    async def open(self, lifetime: int) -> Forward:
        response = await self._send(lifetime)
        self.external_ip = response.external_ip
        return Forward(self.method, self.gateway, self.proto, self.port, response.external_port,
                       response.lifetime, response.external_ip)  # fmt: skip

    async def renew(self, lifetime: int) -> Forward:
        return await self.open(lifetime)  # §11.2.1: a renewal is the same MAP, same nonce

    async def close(self) -> None:
        await self._send(0)  # §15: lifetime 0 with the mapping's nonce


class NatPmpMapper(UdpMapper):
    method: Method = "NAT-PMP"

    async def external_address(self) -> ipaddress.IPv4Address:
        reply = await netio.udp_exchange(
            self.peer, natpmp.encode_external(), natpmp.decode_external, method=self.method, deadline=self.deadline
        )
        self._observe(reply.epoch)
        natpmp.check_result(reply.result)
        self.external_ip = reply.address
        return reply.address

    async def _send(self, external: int, lifetime: int) -> natpmp.MapReply:
        reply = await netio.udp_exchange(
            self.peer, natpmp.encode_map(self.proto, self.port, external, lifetime),
            lambda data: natpmp.decode_map(data, self.proto, self.port),
            method=self.method, deadline=self.deadline,
        )  # fmt: skip
        self._observe(reply.epoch)
        natpmp.check_result(reply.result)
        return reply

    async def open(self, lifetime: int) -> Forward:
        reply = await self._send(self.port, lifetime)
        if self.external_ip is None:
            try:
                await self.external_address()
            except (PortmapError, NetworkError) as exc:
                log.debug("NAT-PMP external address: %s", exc)
        return Forward(self.method, self.gateway, self.proto, self.port, reply.external_port, reply.lifetime,
                       self.external_ip)  # fmt: skip

    async def renew(self, lifetime: int) -> Forward:
        return await self.open(lifetime)

    async def close(self) -> None:
        await self._send(0, 0)  # RFC 6886 §3.4
