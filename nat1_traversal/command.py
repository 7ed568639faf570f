"""Split the ``on_change`` command line into argv; it runs without a shell."""

from __future__ import annotations

import os
import shlex


def split_command(command: str, *, windows: bool | None = None) -> list[str]:
    """Split ``on_change`` into argv without a shell. On Windows backslashes are path
    separators, not escapes (``C:\\tools\\notify.bat``), so only quotes group words."""
    if windows if windows is not None else os.name == "nt":
        return [word[1:-1] if len(word) > 1 and word[0] == word[-1] == '"' else word
                for word in shlex.split(command, posix=False)]
    return shlex.split(command)
