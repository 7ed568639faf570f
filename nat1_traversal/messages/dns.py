"""Messages of the dns area: key -> (zh, en). Keys start with "dns."."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
}
