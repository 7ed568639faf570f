"""The whole message catalogue: ``key -> (Simplified Chinese, English)``.

One module per area so that each part of the program owns its texts; this file
merges them and refuses duplicate keys (tested).
"""

from __future__ import annotations

from nat1_traversal.messages import (
    cli,
    config,
    dns,
    forward,
    keeper,
    mc,
    notify,
    portmap,
    reach,
    services,
    status,
    stun,
)

Entry = tuple[str, str]

_PARTS: tuple[dict[str, Entry], ...] = (
    cli.MESSAGES,
    config.MESSAGES,
    stun.MESSAGES,
    keeper.MESSAGES,
    forward.MESSAGES,
    dns.MESSAGES,
    mc.MESSAGES,
    portmap.MESSAGES,
    status.MESSAGES,
    notify.MESSAGES,
    reach.MESSAGES,
    services.MESSAGES,
)


def _merge() -> dict[str, Entry]:
    merged: dict[str, Entry] = {}
    for part in _PARTS:
        for key, entry in part.items():
            if key in merged:
                raise RuntimeError(f"duplicate message key {key!r}")
            merged[key] = entry
    return merged


CATALOGUE: dict[str, Entry] = _merge()
