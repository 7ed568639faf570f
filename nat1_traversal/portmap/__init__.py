"""Ask the home router to forward the service's port: PCP (RFC 6887), NAT-PMP (RFC 6886), UPnP IGD.

Layers, every arrow pointing down::

    manager.py      one forward's life: pick the gateway, try PCP → NAT-PMP → UPnP, renew, delete
    client_*.py     one protocol's request/response over the network (UDP 5351, SSDP + SOAP)
    pcp.py natpmp.py igd.py ssdp.py    pure codecs: bytes/XML in, values or PortmapError out
    model.py        Forward, EpochClock, shared constants
"""
