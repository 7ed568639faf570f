"""Messages of the cli area: key -> (zh, en). Keys start with "cli."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
