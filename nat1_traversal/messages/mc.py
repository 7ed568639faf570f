"""Messages of the mc area: key -> (zh, en). Keys start with "mc."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
