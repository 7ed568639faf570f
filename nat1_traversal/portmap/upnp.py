"""UPnP IGD over the network: SSDP to find the gateway's WAN*Connection, then SOAP to it."""

from __future__ import annotations

import ipaddress
import logging

from nat1_traversal.errors import PortmapError, PortmapRefused
from nat1_traversal.portmap import igd, netio
from nat1_traversal.portmap.model import Forward, Method, Proto

log = logging.getLogger(__name__)

# WANIPConnection:2 §2.3.17: IGDv2 refuses 0 (permanent) and caps a lease at one week.
MAX_V2_LEASE = 604800
ONLY_PERMANENT = 725
CONFLICT = 718
NO_SUCH_ENTRY = 714


class UpnpMapper:
    method: Method = "UPnP"

    def __init__(self, gateway: ipaddress.IPv4Address, own: ipaddress.IPv4Address, proto: Proto, port: int,
                 *, description: str, deadline: float = 3.0) -> None:  # fmt: skip
        self.gateway, self.own, self.proto, self.port = gateway, own, proto, port
        self.description = description
        self.deadline = deadline
        self.service: igd.Service | None = None
        self.permanent = False  # the device only takes permanent leases (725): we delete it ourselves
        self.lost = False
        self.external_ip: ipaddress.IPv4Address | None = None

    async def discover(self) -> igd.Service:
        if self.service is None:
            reply = await netio.ssdp_search(self.gateway, self.own, deadline=self.deadline)
            response = await netio.http_request(reply.location, deadline=self.deadline)
            if response.status != 200:
                raise PortmapError("portmap.bad_reply", method=self.method, detail=f"HTTP {response.status}")
            self.service = igd.parse_description(response.body, reply.location, self.gateway)
            log.debug("UPnP: %s at %s", self.service.service_type, self.service.control_url)
        return self.service

    async def call(self, action: str, arguments: dict[str, str]) -> dict[str, str]:
        service = await self.discover()
        response = await netio.http_request(
            service.control_url,
            method="POST",
            headers={
                "Content-Type": 'text/xml; charset="utf-8"',
                "SOAPAction": f'"{service.service_type}#{action}"',
            },
            body=igd.soap_body(service.service_type, action, arguments),
            deadline=self.deadline,
        )
        return igd.parse_soap(response, action)

    def _key(self) -> dict[str, str]:
        return {"NewRemoteHost": "", "NewExternalPort": str(self.port), "NewProtocol": self.proto.upper()}

    async def external_address(self) -> ipaddress.IPv4Address | None:
        out = await self.call("GetExternalIPAddress", {})
        try:
            self.external_ip = ipaddress.IPv4Address(out.get("NewExternalIPAddress", ""))
        except ValueError:
            self.external_ip = None
        return self.external_ip

    async def entry(self) -> dict[str, str] | None:
        """The forward the gateway holds on our external port, or ``None``."""
        try:
            return await self.call("GetSpecificPortMappingEntry", self._key())
        except PortmapRefused as exc:
            if exc.code in (NO_SUCH_ENTRY, 402, 713):
                return None
            raise

    async def remove_stale(self) -> bool:
        """Delete a forward of ours that a crashed run left (same description, this host)."""
        held = await self.entry()
        if held is None or held.get("NewPortMappingDescription") != self.description:
            return False
        if held.get("NewInternalClient") != str(self.own):
            return False
        await self.call("DeletePortMapping", self._key())
        return True

    async def _add(self, lifetime: int) -> int:
        service = await self.discover()
        lease = 0 if self.permanent else lifetime
        if service.version >= 2:
            lease = min(lease or MAX_V2_LEASE, MAX_V2_LEASE)
        arguments = {
            **self._key(),
            "NewInternalPort": str(self.port),
            "NewInternalClient": str(self.own),
            "NewEnabled": "1",
            "NewPortMappingDescription": self.description,
            "NewLeaseDuration": str(lease),
        }
        try:
            await self.call("AddPortMapping", arguments)
        except PortmapRefused as exc:
            if exc.code == ONLY_PERMANENT and not self.permanent:
                self.permanent = True
                return await self._add(lifetime)
            if exc.code != CONFLICT or service.version < 2:
                raise
            # IGDv2: ask for any port; we only keep it if it is ours (external = internal).
            out = await self.call("AddAnyPortMapping", arguments)
            got = int(out.get("NewReservedPort", "0") or 0)
            if got != self.port:
                await self.call("DeletePortMapping", {**self._key(), "NewExternalPort": str(got)})
                raise PortmapRefused("portmap.refused", method=self.method, code=CONFLICT,
                                     reason_key="portmap.upnp.718", description=exc.fields.get("description", "-"),
                                     ) from exc  # fmt: skip
        return lease

    async def open(self, lifetime: int) -> Forward:
        lease = await self._add(lifetime)
        if self.external_ip is None:
            try:
                await self.external_address()
            except PortmapError as exc:
                log.debug("UPnP GetExternalIPAddress: %s", exc)
        return Forward(self.method, self.gateway, self.proto, self.port, self.port, lease, self.external_ip)

    async def renew(self, lifetime: int) -> Forward:
        # UPnP has no refresh: the same AddPortMapping again. A missing entry means the router lost it.
        self.lost = (await self.entry()) is None
        return await self.open(lifetime)

    async def close(self) -> None:
        await self.call("DeletePortMapping", self._key())
