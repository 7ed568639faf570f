"""Messages of the forward area: key -> (zh, en). Keys start with "forward."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
