"""Messages of the keeper area: key -> (zh, en). Keys start with "keeper."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
