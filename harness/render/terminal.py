"""A Document in the terminal, through rich: every piece of text goes in as a ``Text``
object (never parsed as console markup) after ``one_line``/``clean_line`` (no escape
sequence reaches the terminal). rich is imported when a document is printed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..inert import clean_line, one_line
from .document import (
    Block,
    Chart,
    Code,
    Details,
    Document,
    Heading,
    Inline,
    Items,
    Paragraph,
    Prose,
    Table,
    Tag,
    Warnings,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = ["STYLES", "render", "sparkline", "text_of"]

STYLES: dict[Tag, str] = {
    "": "",
    "strong": "bold",
    "code": "",
    "dim": "dim",
    "good": "bold green",
    "bad": "bold red",
    "warn": "yellow",
    "info": "cyan",
    "muted": "dim",
}
MAX_CODE_LINES = 60


def text_of(text: Inline, style: str = "") -> Text:
    """Spans as one rich Text, each span's text made inert."""
    from rich.text import Text

    out = Text(style=style)
    for span in text:
        out.append(one_line(span.text, strip=False), style=STYLES[span.tag])
    return out


def _plain(text: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(text, style=style)


def _table(block: Table) -> Any:
    from rich.table import Table as RichTable

    shown = [i for i, c in enumerate(block.columns) if c.terminal]
    table = RichTable(box=None, header_style="bold", pad_edge=False)
    for i in shown:
        column = block.columns[i]
        table.add_column(_plain(one_line(column.name)), justify=column.align)
    for row in block.rows:
        table.add_row(*(text_of(row[i]) for i in shown))
    return table


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float, ...]) -> str:
    """Values as a row of block characters, lowest to highest (finite values only)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(
        SPARKS[round((v - low) / span * (len(SPARKS) - 1))] if math.isfinite(v) else " "
        for v in values
    )


def _chart(console: Console, block: Chart) -> None:
    """One sparkline per series, with its first and last values and the step range."""
    if not block.x:
        return
    steps = f"steps {block.x[0]} to {block.x[-1]}"
    width = max((len(one_line(name)) for name, _ in block.series), default=0)
    for name, values in block.series:
        line = sparkline(values)
        if line:
            ends = f"{values[0]:.4g} → {values[-1]:.4g}"
            label = one_line(name).ljust(width)
            console.print(_plain(f"  {label}  {line}  {ends}  ({steps})"))


def _block(console: Console, block: Block) -> None:
    if isinstance(block, Heading):
        console.print(text_of(block.text, STYLES[block.tag] or "bold"))
    elif isinstance(block, Paragraph):
        console.print(text_of(block.text, "dim" if block.small else ""))
    elif isinstance(block, Items):
        for item in block.items:
            console.print(_plain("• ") + text_of(item))
    elif isinstance(block, Table):
        console.print(_table(block))
    elif isinstance(block, Code):
        if block.title:
            console.print(_plain(one_line(block.title), "bold"))
        lines = list(block.lines)
        for line in lines[-MAX_CODE_LINES:]:
            console.print(_plain("  " + clean_line(line, 300), "dim"))
    elif isinstance(block, Prose):
        for line in block.text.splitlines()[:200]:
            console.print(_plain(clean_line(line)))
    elif isinstance(block, Chart):
        _chart(console, block)
    elif isinstance(block, Details):
        console.print(_plain(one_line(block.summary), "bold"))
        for inner in block.blocks:
            _block(console, inner)
    elif isinstance(block, Warnings):
        for warning in block.items:
            console.print(_plain("warning: ", "yellow") + _plain(one_line(warning)))
    else:
        raise TypeError(f"not a block: {type(block).__name__}")


def render(doc: Document, console: Console) -> None:
    """Print ``doc``; the hidden marker is for PR comments and is not shown."""
    for i, block in enumerate(doc.blocks):
        if i and isinstance(block, Heading):  # a section starts after a blank line
            console.print()
        _block(console, block)
