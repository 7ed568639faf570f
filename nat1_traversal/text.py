"""Text from peers made safe to print: control characters become visible escapes.

A STUN reason, a Minecraft MOTD, a provider's error body or a DNS name can carry a
newline (which would forge a log line), an ESC or a C1 control such as U+009B (which
a terminal runs as a command). ``printable`` turns C0 controls, DEL, C1 controls and
the Unicode line/paragraph separators into ``\\n``, ``\\x1b``, ``\\x9b``, ``\\u2028``.
Pure and cheap: one ``str.translate``.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_TABLE: dict[int, str] = {
    code: _NAMED.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROLS
}
# For JSON text (``-q`` lines): JSON already escapes C0; C1 and U+2028/9 get \\u escapes.
_JSON_TABLE: dict[int, str] = {code: f"\\u{code:04x}" for code in [0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]}


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape."""
    return text.translate(_TABLE)


def printable_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) without raw C1/DEL/U+2028/9.

    Those are only ever inside JSON strings, where ``\\uXXXX`` means the same character.
    """
    return text.translate(_JSON_TABLE)


def has_controls(text: str) -> bool:
    return text != printable(text)
