"""Built-in server lists (SPEC section 10). Every list can be replaced in config.json.

Domestic servers come first: most users are in mainland China, where they answer
fastest and are not filtered. Servers come and go, so callers try the next one on
failure and remember which answered.
"""

from __future__ import annotations

from nat1_traversal.model import HostPort

STUN_PORT = 3478

DEFAULT_STUN_UDP: tuple[HostPort, ...] = (
    HostPort("stun.miwifi.com", 3478),
    HostPort("stun.chat.bilibili.com", 3478),
    HostPort("stun.hitv.com", 3478),
    HostPort("stun.cdnbye.com", 3478),
    HostPort("stun.douyucdn.cn", 18000),
    HostPort("stun.cloudflare.com", 3478),
    HostPort("stun.l.google.com", 19302),
    HostPort("stun.nextcloud.com", 3478),
)

DEFAULT_STUN_TCP: tuple[HostPort, ...] = (
    HostPort("turn.cloud-rtc.com", 80),
    HostPort("fwa.lifesizecloud.com", 3478),
    HostPort("global.turn.twilio.com", 3478),
    HostPort("turn.cloudflare.com", 3478),
    HostPort("stun.nextcloud.com", 3478),
    HostPort("stun.freeswitch.org", 3478),
    # Not stunserver.stunprotocol.org (SPEC section 10 names it): since February 2023 its
    # operator serves only North America and Europe, because of bandwidth costs, so from
    # mainland China it never answers and only costs every start a timeout.
)

DEFAULT_KEEPALIVE_TCP: tuple[HostPort, ...] = (
    HostPort("www.baidu.com", 80),
    HostPort("www.qq.com", 80),
)
