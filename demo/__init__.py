"""``python3 -m demo``: see nat1_traversal work through an emulated FULL CONE NAT (root)."""
