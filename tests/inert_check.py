"""What "inert" means, checked on real output: Markdown parsed by markdown-it (CommonMark
plus tables, as GitHub reads it) and terminal text scanned for control bytes."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

ZWSP = "\u200b"
# The only HTML a report may hold: its own markers, folds and footnotes.
_ALLOWED_HTML = re.compile(
    r"^(<!-- harness:(report|compare|leaderboard)( branch=[A-Za-z0-9%._~-]+)? -->"
    r"|<!-- harness:queued -->|<details><summary>[^<>]*</summary>|</details>|<sub>|</sub>)$"
)
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _walk(tokens: list[Token]) -> list[Token]:
    found = []
    for token in tokens:
        found.append(token)
        if token.children:
            found += _walk(token.children)
    return found


def markdown_problems(text: str, links: tuple[str, ...] = ()) -> list[str]:
    """Everything in ``text`` that would be live on GitHub: HTML but ours, links (but to
    the ``links`` prefixes: pages the harness links to itself), images, bare URLs,
    @mentions, unclosed fences, control characters."""
    problems = []
    tokens = _walk(MarkdownIt("commonmark").enable("table").parse(text))
    lines = text.splitlines()
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            for line in token.content.strip().splitlines():
                if not _ALLOWED_HTML.match(line.strip()):
                    problems.append(f"HTML: {line[:80]!r}")
        elif token.type == "link_open" and links and str(token.attrGet("href")).startswith(links):
            continue
        elif token.type in ("link_open", "image"):
            problems.append(f"{token.type}: {token.attrGet('href') or token.attrGet('src')!r}")
        elif token.type == "text":
            if re.search(r"(?i)https?://|www\.", token.content):
                problems.append(f"bare URL: {token.content[:80]!r}")
            if _MENTION.search(token.content):
                problems.append(f"mention: {token.content[:80]!r}")
        elif token.type == "fence" and token.map:
            start, end = token.map
            if end - 1 <= start or lines[end - 1].strip() != token.markup:
                problems.append(f"unclosed fence at line {start + 1}")
    if _CONTROL.search(text):
        problems.append("control character")
    return problems


def markdown_text(text: str) -> str:
    """What a reader sees: the text of every text, code span and code block, without the
    zero-width spaces that break links and mentions."""
    tokens = _walk(MarkdownIt("commonmark").enable("table").parse(text))
    shown = [t.content for t in tokens if t.type in ("text", "code_inline", "fence", "code_block")]
    return "\n".join(shown).replace(ZWSP, "")


def terminal_problems(text: str) -> list[str]:
    found = sorted({repr(ch) for ch in text if ch in "\x1b\x9b\x00\x07\r"})
    return [f"control character {ch}" for ch in found]
