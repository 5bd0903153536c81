"""Failed runs read like a good bug report: one entry per way of failing, its traceback
with the repository's own frames (library frames folded into a count), paths relative to
the repository, and the failing line with a few lines of source.

Runs failed "the same way" when their exception type, their message once numbers and
addresses are normalised, and the repository frame nearest the error are the same (or,
without a traceback, the same diagnosis). A path from another machine (a W&B agent's
clone, a temporary worktree) is mapped onto the commit's tree by its longest suffix that
is a file there. Core: pure functions; the pipeline reads the tree and the source in git.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from .diagnose import Diagnosis
from .runs import Run

__all__ = [
    "Failure",
    "Frame",
    "SourceLines",
    "Traceback",
    "group_failures",
    "locate",
    "normalize_message",
    "parse_traceback",
    "scrub_paths",
    "source_lines",
]

MAX_FRAMES = 200
CONTEXT = 2  # source lines shown above and below the failing one
_FRAME = re.compile(
    r'^\s*File "(?P<path>[^"]{1,1000})", line (?P<line>\d{1,9}), in (?P<func>.{1,200})$'
)
_MARKS = re.compile(r"^\s*[\^~\s]+$")  # Python 3.11+'s ^^^^ under the failing expression
_CHAIN = ("The above exception was the direct cause", "During handling of the above exception")
_LIBRARY = re.compile(r"(^|/)(site-packages|dist-packages)/|^<|(^|/)lib/python\d+(\.\d+)?/")
# Numbers and addresses, but not the digits of a name (E0Error, conv2d): shapes such as
# 64x784 are one number.
_NUMBER = re.compile(
    r"(?P<name>[A-Za-z_]\w*)|0x[0-9a-fA-F]+|\d+(?:x\d+)+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
)
_SITE = re.compile(r"(?:[A-Za-z]:)?[^\s\"'(]*?/(?:site|dist)-packages/")
_STDLIB = re.compile(r"(?:[A-Za-z]:)?/[^\s\"'(]*?/lib/python\d+(?:\.\d+)?/")
_HOME = re.compile(r"/(?:home|Users)/[^/\s\"']+/|/root/")


@dataclass(frozen=True)
class Frame:
    path: str  # as the log printed it
    line: int
    function: str
    code: str | None = None  # the source line the traceback printed under it
    repo_path: str | None = None  # relative to the repository: one of the repository's frames

    @property
    def in_repo(self) -> bool:
        return self.repo_path is not None


@dataclass(frozen=True)
class Traceback:
    """The last Python traceback of a log: its frames, outermost first, and the error."""

    frames: tuple[Frame, ...]
    exception: str | None
    chained: int = 0  # tracebacks before it ("During handling of the above exception…")
    root: str | None = None  # where the repository was on the run's machine

    @property
    def exception_type(self) -> str | None:
        if not self.exception:
            return None
        return self.exception.split(":", 1)[0].strip() or None

    @property
    def failing_frame(self) -> Frame | None:
        """The repository frame nearest the error: the line to look at."""
        return next((f for f in reversed(self.frames) if f.in_repo), None)

    def folded(self) -> list[str]:
        """The traceback as shown: repository frames with their code, each run of library
        frames one line with its count."""
        lines = ["Traceback (most recent call last):"]
        if self.chained:
            lines[0] += f" (the last of {self.chained + 1} chained tracebacks)"
        hidden = 0
        for frame in self.frames:
            if not frame.in_repo:
                hidden += 1
                continue
            if hidden:
                lines.append(f"  … {hidden} library frame(s)")
                hidden = 0
            lines.append(f'  File "{frame.repo_path}", line {frame.line}, in {frame.function}')
            if frame.code:
                lines.append(f"    {frame.code}")
        if hidden:
            lines.append(f"  … {hidden} library frame(s)")
        if self.exception:
            lines.append(self.exception)
        return lines


@dataclass(frozen=True)
class SourceLines:
    """Lines of a file at the run's commit around the failing one."""

    path: str
    line: int
    lines: tuple[tuple[int, str], ...]

    def shown(self) -> list[str]:
        width = len(str(self.lines[-1][0])) if self.lines else 1
        return [
            f"{'→' if number == self.line else ' '} {number:>{width}} | {text}"
            for number, text in self.lines
        ]


@dataclass(frozen=True)
class Failure:
    """Runs of one branch that failed the same way, shown once."""

    runs: tuple[Run, ...]
    diagnosis: Diagnosis
    traceback: Traceback | None = None
    source: SourceLines | None = None
    excerpt: tuple[str, ...] = ()  # the log lines shown: the folded traceback, or the tail

    @property
    def seeds(self) -> list[int]:
        return sorted(r.seed for r in self.runs if r.seed is not None)


def parse_traceback(lines: Sequence[str]) -> Traceback | None:
    """The last traceback in ``lines`` (None without one)."""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    start = starts[-1]
    chained = sum(1 for line in lines[:start] if line.startswith(_CHAIN))
    frames: list[Frame] = []
    exception = None
    i = start + 1
    while i < len(lines):
        line = lines[i]
        match = _FRAME.match(line)
        if match:
            code = None
            if (
                i + 1 < len(lines)
                and lines[i + 1].startswith("    ")
                and not _FRAME.match(lines[i + 1])
            ):
                candidate = lines[i + 1].strip()
                if candidate and not _MARKS.match(lines[i + 1]):
                    code = candidate[:300]
                    i += 1
            if len(frames) < MAX_FRAMES:
                frames.append(Frame(match["path"], int(match["line"]), match["func"].strip(), code))
        elif line.strip() and not line.startswith((" ", "\t")):
            exception = line.strip()[:500]
            break
        i += 1
    return Traceback(tuple(frames), exception, chained)


def _posix(path: str) -> str:
    return path.replace("\\", "/")


def _repo_path(path: str, tree: Collection[str]) -> str | None:
    posix = _posix(path)
    if _LIBRARY.search(posix):
        return None
    parts = [p for p in posix.split("/") if p not in ("", ".")][-30:]
    for i in range(len(parts)):
        candidate = "/".join(parts[i:])
        if candidate in tree:
            return candidate
    return None


def locate(traceback: Traceback, tree: Collection[str]) -> Traceback:
    """The traceback with each frame that is a file of the commit's tree (by its longest
    path suffix there) marked as the repository's, with its repository-relative path.

    Without the tree (this checkout lacks the run's commit), the frames outside
    site-packages and the standard library are taken as the repository's, relative to
    the folder they all share."""
    if not tree:
        return _guess(traceback)
    frames = tuple(replace(f, repo_path=_repo_path(f.path, tree)) for f in traceback.frames)
    root = None
    for f in frames:
        if f.repo_path is not None:
            posix = _posix(f.path)
            if posix.endswith(f.repo_path) and len(posix) > len(f.repo_path):
                root = posix[: -len(f.repo_path)]
                break
    return replace(traceback, frames=frames, root=root)


def _guess(traceback: Traceback) -> Traceback:
    own = [path for path in (_posix(f.path) for f in traceback.frames) if not _LIBRARY.search(path)]
    if not own:
        return traceback
    folders = [path.rsplit("/", 1)[0] + "/" if "/" in path else "" for path in own]
    root = folders[0]
    for folder in folders[1:]:
        while not folder.startswith(root):
            root = root[:-1].rsplit("/", 1)[0] + "/" if "/" in root[:-1] else ""
    frames = tuple(
        replace(f, repo_path=posix[len(root) :])
        if not _LIBRARY.search(posix := _posix(f.path))
        else f
        for f in traceback.frames
    )
    return replace(traceback, frames=frames, root=root or None)


def scrub_paths(line: str, roots: Collection[str] = ()) -> str:
    """A log line without this machine's absolute paths: the repository's root removed,
    site-packages and the standard library shortened, home folders as ``~``."""
    for root in sorted(roots, key=len, reverse=True):
        if len(root) > 1:
            line = line.replace(root, "")
    line = _SITE.sub("<site-packages>/", line)
    line = _STDLIB.sub("<python>/", line)
    return _HOME.sub("~/", line)


def normalize_message(message: str | None) -> str:
    """An error message with its numbers and addresses replaced: the same error on other
    data or at another address reads the same."""
    return _NUMBER.sub(lambda m: m["name"] or "N", message or "").strip()


def _key(run_failure: tuple[Run, Diagnosis, Traceback | None]) -> tuple[str, ...]:
    _, diagnosis, traceback = run_failure
    if traceback is None or not traceback.exception:
        return ("diagnosis", diagnosis.category, normalize_message(diagnosis.summary))
    failing = traceback.failing_frame
    where = (failing.repo_path or "", failing.function) if failing else ("", "")
    roots = [traceback.root] if traceback.root else []
    message = normalize_message(scrub_paths(traceback.exception, roots))
    return ("traceback", traceback.exception_type or "", message, *where)


def group_failures(
    found: Sequence[tuple[Run, Diagnosis, Traceback | None]],
    *,
    source: Callable[[str, int], SourceLines | None] | None = None,
) -> list[Failure]:
    """One Failure per way of failing, in order of first appearance; ``source(path, line)``
    reads the failing line's surroundings at the run's commit."""
    groups: dict[tuple[str, ...], list[tuple[Run, Diagnosis, Traceback | None]]] = {}
    for item in found:
        groups.setdefault(_key(item), []).append(item)
    failures = []
    for items in groups.values():
        _, diagnosis, traceback = items[0]
        roots = {tb.root for _, _, tb in items if tb is not None and tb.root}
        if traceback is not None and traceback.exception:
            excerpt = [scrub_paths(line, roots) for line in traceback.folded()]
        else:
            excerpt = [scrub_paths(line, roots) for line in diagnosis.excerpt]
        if traceback is not None and traceback.exception:
            traceback = replace(traceback, exception=scrub_paths(traceback.exception, roots))
        failing = traceback.failing_frame if traceback else None
        lines = (
            source(failing.repo_path, failing.line)
            if failing and failing.repo_path and source
            else None
        )
        failures.append(
            Failure(
                runs=tuple(r for r, _, _ in items),
                diagnosis=replace(diagnosis, summary=scrub_paths(diagnosis.summary, roots)),
                traceback=traceback,
                source=lines,
                excerpt=tuple(excerpt),
            )
        )
    return failures


def source_lines(text: str, path: str, line: int) -> SourceLines | None:
    """The lines around ``line`` of a file's ``text`` (None when it has no such line)."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    first, last = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
    return SourceLines(path, line, tuple((n, lines[n - 1][:300]) for n in range(first, last + 1)))
