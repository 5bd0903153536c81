"""The view model every report is built as: blocks of plain text with semantic tags.

A report (a comparison, a leaderboard, a branch's run-ended analysis, a launch summary) is
built once as a Document; markdown.py and terminal.py each render any Document. Text in a
Span is always plain text, never markup: the renderers make it inert for their format, so
a value from a run can never become a link, an image, HTML or console markup.
Core: no rich import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "Align",
    "Block",
    "Chart",
    "Code",
    "Column",
    "Details",
    "Document",
    "Heading",
    "Inline",
    "Items",
    "Paragraph",
    "Prose",
    "Span",
    "Table",
    "Tag",
    "Warnings",
    "inline",
]

# strong: emphasis; code: an identifier (branch, commit, run id, path); dim: secondary;
# good / bad / warn / info / muted: a verdict's or a state's colour.
Tag = Literal["", "strong", "code", "dim", "good", "bad", "warn", "info", "muted"]
Align = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Span:
    """A piece of text with one tag; ``url`` makes it a link where links are allowed (only
    for URLs the harness made itself, such as a run's W&B page)."""

    text: str
    tag: Tag = ""
    url: str | None = None


Inline = tuple[Span, ...]


def inline(*parts: str | Span | None) -> Inline:
    """Spans from strings (untagged) and Spans; None parts are skipped."""
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts if p is not None)


@dataclass(frozen=True)
class Heading:
    text: Inline
    tag: Tag = ""  # the terminal's colour for the line
    level: int = 3  # 3: a report's title; 4: a section of it


@dataclass(frozen=True)
class Paragraph:
    text: Inline
    small: bool = False  # a footnote: <sub> in Markdown, dim in the terminal


@dataclass(frozen=True)
class Items:
    """A bulleted list, one line each."""

    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Column:
    name: str
    align: Align = "left"
    terminal: bool = True  # False: shown in Markdown only (links, long notes)


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Code:
    """Lines shown verbatim in a fixed-width block (a log excerpt, a diff, commands)."""

    lines: tuple[str, ...]
    language: str = "text"
    title: str | None = None  # Markdown folds the block under this summary


@dataclass(frozen=True)
class Prose:
    """Several lines of untrusted prose (an LLM's answer): paragraphs and ``-`` bullets
    are kept, spans in backticks are shown as code, everything else as plain text."""

    text: str


@dataclass(frozen=True)
class Chart:
    """Lines over a shared x axis (Markdown: a Mermaid chart; the terminal skips it)."""

    title: str
    x: tuple[int, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    note: str = ""


@dataclass(frozen=True)
class Details:
    """Blocks folded under a summary line in Markdown; shown under it in the terminal."""

    summary: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Warnings:
    """What a reader should know: folded in Markdown, ``warning:`` lines in the terminal."""

    items: tuple[str, ...]


Block: TypeAlias = Heading | Paragraph | Items | Table | Code | Prose | Chart | Details | Warnings


@dataclass(frozen=True)
class Document:
    """A report: a hidden marker (its identity in a PR comment) and its blocks."""

    blocks: tuple[Block, ...]
    marker: str | None = None
