"""GitHub Markdown of a Document, with every piece of text inert.

Text is escaped so that it renders as the characters it holds and nothing else: no HTML
(``<``, ``>``, ``&`` as entities, which also kills hidden ``<!--`` markers), no link or
image (``[``, ``]`` escaped), no emphasis, code or math (``*``, ``_``, ``~``, backticks,
``$``), no block structure (a leading ``#``, ``-``, ``+``, ``=`` or ``1.``), no
``@mention`` or ``#123`` reference and no bare autolinked URL (a zero-width space breaks
them). Code spans and fenced blocks use a fence longer than any backtick run inside, so
they always close. Only URLs the harness made (``Span.url``, checked) become links.
Core: no rich import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

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
    Warnings,
)

__all__ = [
    "MAX_CELL",
    "code_block",
    "code_span",
    "escape",
    "marker",
    "render",
    "render_inline",
    "safe_url",
]

MAX_CELL = 500  # characters of text in one cell, heading or bullet
MAX_CODE_LINE = 300
CUT_NOTE = "Some sections were left out to fit GitHub's comment limit."
ZWSP = "\u200b"
_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "[": "\\[",
        "]": "\\]",
        "$": "\\$",
        "|": "\\|",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
    }
)
_AUTOLINK = re.compile(r"(?i)(://|www\.|#(?=\d)|@(?=\w))")
_LEADING = re.compile(r"^(\d{1,9})([.)])|^([#+=-])")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]{1,253}(:\d{1,5})?(/[^\s()<>\[\]\"'`\\]*)?$")
_BACKTICKS = re.compile(r"`+")


def marker(kind: str, branch: str | None = None) -> str:
    """The hidden HTML comment that identifies a report in a PR comment: ``summary`` (a
    branch's run report), ``compare``, ``leaderboard``. The branch is percent-encoded (a
    valid ref may contain ``-->``)."""
    what = "report" if kind == "summary" else kind
    suffix = f" branch={quote(branch, safe='')}" if branch is not None else ""
    return f"<!-- harness:{what}{suffix} -->"


def escape(text: str, *, limit: int = MAX_CELL, leading: bool = True) -> str:
    """``text`` on one line, rendering as exactly its characters in GitHub Markdown.
    ``leading``: it starts a block, where ``#``, ``-``, ``+``, ``=`` or ``1.`` would make a
    heading or a list (its leading spaces go too: four would make a code block)."""
    flat = one_line(text, limit, strip=False)
    out = _AUTOLINK.sub(lambda m: m.group(1)[0] + ZWSP + m.group(1)[1:], flat)
    out = out.translate(_ESCAPES)
    if not leading:
        return out
    return _LEADING.sub(
        lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else f"\\{m.group(3)}",
        out.lstrip(),
        1,
    )


def code_span(text: str, *, limit: int = MAX_CELL) -> str:
    """``text`` as an inline code span whose fence no backtick run inside can close."""
    flat = one_line(text, limit) or " "
    longest = max((len(run) for run in _BACKTICKS.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or flat.startswith(" ") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def code_block(lines: Iterable[str], language: str = "text") -> list[str]:
    """Lines in a fenced block that always closes (the fence outgrows every backtick run)."""
    body = [clean_line(line, MAX_CODE_LINE) for line in lines]
    longest = max((len(run) for line in body for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    lang = re.sub(r"[^a-z0-9_+-]", "", language.lower())[:20]
    return [f"{fence}{lang}", *body, fence]


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain http(s) URL that cannot break out of a link, else None."""
    return url if url and len(url) <= 2000 and _URL.match(url) else None


def render_inline(text: Inline, *, table: bool = False, starts_block: bool = False) -> str:
    """Spans as inline Markdown; ``starts_block``: they begin a paragraph or a list item."""
    parts = []
    for i, span in enumerate(text):
        leading = starts_block and i == 0
        if span.tag == "code":
            shown = code_span(span.text)
            if table:  # GitHub splits a table cell at any pipe, even inside code
                shown = shown.replace("|", "\\|")
        elif span.tag == "strong":
            shown = f"**{escape(span.text.strip(), leading=False)}**" if span.text.strip() else ""
        elif span.tag == "dim" and span.text.strip() and not table:
            shown = f"_{escape(span.text.strip(), leading=False)}_"
        else:
            shown = escape(span.text, leading=leading)
        url = safe_url(span.url)
        parts.append(f"[{shown}]({url})" if url and shown else shown)
    return "".join(parts)


def _table(block: Table) -> list[str]:
    align = {"left": "---", "right": "--:", "center": ":-:"}
    head = "| " + " | ".join(escape(c.name, leading=False) for c in block.columns) + " |"
    rule = "|" + "|".join(align[c.align] for c in block.columns) + "|"
    rows = [
        "| " + " | ".join(render_inline(cell, table=True) for cell in row) + " |"
        for row in block.rows
    ]
    return [head, rule, *rows]


_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_TICKED = re.compile(r"(`+)(.+?)\1")


def _prose_line(line: str) -> str:
    """One line of untrusted prose: its backtick spans as code, the rest as text."""
    out, last = [], 0
    for match in _TICKED.finditer(line):
        out.append(escape(line[last : match.start()], limit=4000, leading=last == 0))
        out.append(code_span(match.group(2), limit=4000))
        last = match.end()
    out.append(escape(line[last:], limit=4000, leading=last == 0))
    return "".join(out)


def _prose(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines()[:200]:
        if not raw.strip():
            if lines and lines[-1]:
                lines.append("")
            continue
        bullet = _BULLET.match(raw)
        if bullet:
            lines.append("- " + _prose_line(raw[bullet.end() :]))
        else:
            if lines and lines[-1].startswith("- "):
                lines.append("")
            lines.append(_prose_line(raw.strip()))
    return lines


def _number(value: float) -> str:
    return f"{value:.4g}"


def _chart(block: Chart) -> list[str]:
    series = [(n, v) for n, v in block.series if v and all(math.isfinite(x) for x in v)]
    if not block.x or not series:
        return []
    title = _chart_text(block.title)
    lines = ["```mermaid", "xychart-beta", f'    title "{title}"']
    lines.append(f'    x-axis "step" [{", ".join(str(int(s)) for s in block.x)}]')
    lines.append(f'    y-axis "{title}"')
    for _, values in series:  # only finite values: Mermaid breaks on nan or inf
        lines.append(f"    line [{', '.join(_number(v) for v in values)}]")
    lines.append("```")
    legend = ", ".join(f"line {i} = {code_span(name)}" for i, (name, _) in enumerate(series, 1))
    note = f"; {escape(block.note)}" if block.note else ""
    lines.append(f"_{legend}{note}._")
    return lines


def _chart_text(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in " /_.-:")[:80]


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * min(6, max(1, block.level))} {render_inline(block.text)}"]
    if isinstance(block, Paragraph):
        text = render_inline(block.text, starts_block=True)
        return [f"<sub>{text}</sub>" if block.small else text]
    if isinstance(block, Items):
        return [f"- {render_inline(item, starts_block=True)}" for item in block.items]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        code = code_block(block.lines, block.language)
        if block.title is None:
            return code
        return [f"<details><summary>{escape(block.title)}</summary>", "", *code, "", "</details>"]
    if isinstance(block, Prose):
        return _prose(block.text)
    if isinstance(block, Chart):
        return _chart(block)
    if isinstance(block, Details):
        inner = _join([_block(b) for b in block.blocks])
        return [
            f"<details><summary>{escape(block.summary)}</summary>",
            "",
            *inner,
            "",
            "</details>",
        ]
    if isinstance(block, Warnings):
        if not block.items:
            return []
        items = [f"- {escape(w)}" for w in block.items]
        return ["<details><summary>Warnings</summary>", "", *items, "", "</details>"]
    raise TypeError(f"not a block: {type(block).__name__}")


def render(doc: Document, *, limit: int | None = None) -> str:
    """The Markdown of ``doc``; with ``limit``, whole blocks from the end are left out (with
    a note) until it fits, so a cut never leaves a fence or a table open."""
    head = [doc.marker] if doc.marker else []
    rendered = [_block(b) for b in doc.blocks]
    text = "\n".join([*head, *_join(rendered)]) + "\n"
    if limit is None or len(text) <= limit:
        return text
    note = ["", f"_{escape(CUT_NOTE)}_"]
    kept = list(rendered)
    while kept:
        kept.pop()
        text = "\n".join([*head, *_join(kept), *note]) + "\n"
        if len(text) <= limit:
            return text
    return "\n".join([*head, *note[1:]]) + "\n"


def _join(rendered: Sequence[list[str]]) -> list[str]:
    lines: list[str] = []
    for shown in rendered:
        if shown:
            lines += ["", *shown] if lines else shown
    return lines
