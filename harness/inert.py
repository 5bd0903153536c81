"""Text from outside (run logs, failure reasons, warnings a script wrote) made inert for a
terminal: control characters, escape sequences among them, become spaces.

Rich strips only a few control codes (``\\r``, BEL) and would pass ESC through, so a reason
holding ``ESC [2J`` or an OSC title sequence would clear or retitle the user's terminal.
Core: plain functions, no rich import.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE", "one_line"]

MAX_LINE = 2000  # characters of one shown line
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line: every run of control characters (newlines, tabs, ESC, C1
    codes, NUL) one space, at most ``limit`` characters (a longer text ends with "…")."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
