"""Proof of reachability (SPEC section 13), in layers that only import downwards::

    monitor   ReachMonitor: the daemon's checks (every new mapping, then every interval)
    check     one round: hairpin, then the external checkers; the combination rule
    http      a one-shot GET over one address family
    checkers  URL templates, the built-in list, the reply rules (pure)
    settings  the reach_check / reach_interval config keys (pure)
"""
