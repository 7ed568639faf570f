"""Messages of the config area: key -> (zh, en). Keys start with "config."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
