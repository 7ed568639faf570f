"""The mapping keeper, in layers that only import downwards::

    loop      Keeper: acquire, confirm, check the NAT once, hold, re-acquire
    tcp, udp  the two MappingPath implementations (udp needs only a DatagramPort)
    tracker   MappingTracker: the one owner of the current mapping
    types     KeeperTiming, Answer, HoldResult, MappingPath, NatUnusable

No module of the package imports this ``__init__``; it only re-exports.
"""

from nat1_traversal.keeper.loop import Keeper
from nat1_traversal.keeper.tcp import TcpPath
from nat1_traversal.keeper.tracker import MappingTracker
from nat1_traversal.keeper.types import Filtering, HoldResult, KeeperTiming, MappingPath, NatUnusable
from nat1_traversal.keeper.udp import DatagramPort, UdpPath

__all__ = [
    "DatagramPort",
    "Filtering",
    "HoldResult",
    "Keeper",
    "KeeperTiming",
    "MappingPath",
    "MappingTracker",
    "NatUnusable",
    "TcpPath",
    "UdpPath",
]
