"""nat1_traversal: publish and hold a FULL CONE NAT mapping for a home server."""

__version__ = "2.0.0"
