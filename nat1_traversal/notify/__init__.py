"""Notifications (SPEC section 15): the new address sent through Apprise URLs.

``settings`` checks the config keys, ``notifier`` sends in the background,
``apprise_send`` is the only module that imports Apprise (lazily, on first use).
"""

from __future__ import annotations

from nat1_traversal.notify.notifier import Notifier, NotifyContext, NotifyRetry, notifier_for
from nat1_traversal.notify.settings import NotifyKeys, notify_secrets, parse_notify_keys

__all__ = [
    "Notifier", "NotifyContext", "NotifyKeys", "NotifyRetry", "notifier_for", "notify_secrets", "parse_notify_keys",
]
