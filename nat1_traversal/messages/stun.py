"""Messages of the stun area: key -> (zh, en). Keys start with "stun."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
