"""Message catalogue lookup: Simplified Chinese by default, English on request.

The catalogue itself lives in ``nat1_traversal/messages/`` (one module per area,
every entry a ``(zh, en)`` pair); this module only picks the language and formats.
Language: ``set_language()`` (``--lang``), else env ``NAT1_LANG``, else Chinese.
"""

from __future__ import annotations

import os
from typing import Literal

from nat1_traversal.messages import CATALOGUE
from nat1_traversal.text import printable

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

_language: Language | None = None


def _from_env() -> Language:
    value = os.environ.get("NAT1_LANG", "").strip().lower()
    return "en" if value.startswith("en") else "zh"


def set_language(language: str | None) -> None:
    """Fix the language for the rest of the process (``None``: back to env)."""
    global _language
    if language is None:
        _language = None
    else:
        _language = "en" if language.lower().startswith("en") else "zh"


def language() -> Language:
    return _language if _language is not None else _from_env()


def t(key: str, /, **fields: object) -> str:
    """Translate ``key`` and fill ``{fields}``; an unknown key is shown as is."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key if not fields else f"{key} {fields}"
    template = entry[0] if language() == "zh" else entry[1]
    # Field values are data (often from a peer): their control characters are escaped.
    safe = {name: printable(value) if isinstance(value, str) else value for name, value in fields.items()}
    try:
        return template.format(**safe)
    except (KeyError, IndexError, ValueError):
        return template
