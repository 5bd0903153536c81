"""Text from outside (run logs, failure reasons, warnings a script wrote, commit subjects,
an LLM's answer) made inert before any renderer sees it.

Control characters (ESC, and with it every ANSI and OSC sequence; C1 codes; NUL) become
spaces, so a reason holding ``ESC [2J`` or an OSC title sequence cannot clear or retitle a
terminal; rich itself strips only ``\\r`` and BEL. Lone surrogates (invalid UTF-8 read with
``surrogateescape``) become U+FFFD, so writing the text never raises; bidirectional
overrides are dropped, so a line cannot display in another order than it reads.
Core: plain functions, no rich import.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LINE", "clean_line", "one_line", "valid_text"]

MAX_LINE = 2000  # characters of one shown line
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _unicode(text: str) -> str:
    return _BIDI.sub("", _SURROGATE.sub("\ufffd", text))


def valid_text(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD: encodable as UTF-8 (for a request body)."""
    return _SURROGATE.sub("\ufffd", text)


def one_line(text: str, limit: int = MAX_LINE, *, strip: bool = True) -> str:
    """``text`` on one line: every run of control characters (newlines, tabs, ESC, C1
    codes, NUL) one space, at most ``limit`` characters (a longer text ends with "…");
    without ``strip``, the spaces at its ends are kept (a piece of a longer line)."""
    flat = _CONTROL.sub(" ", _unicode(text[: limit * 4]))
    flat = flat.strip() if strip else flat
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clean_line(text: str, limit: int = MAX_LINE) -> str:
    """One line of a log shown as it was (leading spaces kept, tabs as 4 spaces), its
    control characters as spaces, at most ``limit`` characters."""
    head = _unicode(text[: limit * 4]).replace("\t", "    ")
    flat = _CONTROL.sub(" ", head).rstrip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
