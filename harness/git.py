"""Git: branch-name validation (pure) and the few git commands the harness runs.

Branch names arrive from users, webhooks and CI, so they are checked against git's own
ref rules (``git check-ref-format``) before any command sees them.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import BranchError, UsageError

__all__ = [
    "Git",
    "validate_branch",
]

MAX_BRANCH_LENGTH = 255
_SHA = re.compile(r"[0-9a-f]{7,64}")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def validate_branch(name: str) -> str:
    """Return ``name`` if git would accept it as a branch name, else raise BranchError."""
    problem = _branch_problem(name)
    if problem:
        raise BranchError(f"invalid branch name {name!r}: {problem}")
    return name


def _branch_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_BRANCH_LENGTH:
        return f"longer than {MAX_BRANCH_LENGTH} characters"
    if _FORBIDDEN.search(name):
        return "contains a space, control character or one of ~ ^ : ? * [ \\"
    if name.startswith("-"):
        return "starts with '-'"
    if name == "@" or "@{" in name:
        return "contains '@{' or is '@'"
    if ".." in name:
        return "contains '..'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "has an empty path component"
    if name.endswith("."):
        return "ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "a component starts with '.'"
        if part.endswith(".lock"):
            return "a component ends with '.lock'"
    return None


def _read_at_most(command: list[str], cwd: Path, limit: int | None) -> tuple[bytes, bool] | None:
    """A command's output, and whether it went past ``limit`` bytes (then it is stopped and
    its first ``limit`` bytes are kept); None when it failed or could not start."""
    try:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
    except OSError:
        return None
    assert process.stdout is not None
    with process.stdout:
        data = process.stdout.read() if limit is None else process.stdout.read(limit + 1)
        over = limit is not None and len(data) > limit
        if over:
            process.kill()
    code = process.wait()
    if over:
        return data[:limit], True
    return (data, False) if code == 0 else None


class Git:
    """Runs git in one repository. Errors become one-line UsageErrors."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> str:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.cwd,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as exc:
            raise UsageError("git is not installed (needed to launch branches)") from exc
        if check and done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise UsageError(f"git {args[0]} failed in {self.cwd}: {detail}")
        return done.stdout.strip()

    def toplevel(self) -> Path | None:
        out = self.run("rev-parse", "--show-toplevel", check=False)
        return Path(out) if out else None

    def main_root(self) -> Path | None:
        """The main worktree's root (the same for every linked worktree of the repo)."""
        out = self.run("rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
        if not out:
            return None
        common = Path(out)
        return common.parent if common.name == ".git" else common

    def resolve_branch(self, branch: str) -> str:
        """Full SHA of a local branch (or its ``origin/`` twin). BranchError if neither exists."""
        validate_branch(branch)
        for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
            sha = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
            if sha:
                return sha
        raise BranchError(f"branch {branch!r} does not exist in {self.cwd}")

    def current_branch(self) -> str | None:
        out = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return out or None

    def head_commit(self) -> str | None:
        return self.run("rev-parse", "--verify", "--quiet", "HEAD", check=False) or None

    def changes(self, base: str, head: str, *, limit: int = 30) -> tuple[list[str], str] | None:
        """Commits on ``head`` since ``base`` (newest first) and the diffstat, if both exist."""
        for sha in (base, head):
            if not _SHA.fullmatch(sha):  # commits come from run records: never an option
                return None
            probe = subprocess.run(
                ["git", "cat-file", "-e", f"{sha}^{{commit}}"],
                cwd=self.cwd,
                capture_output=True,
                check=False,
            )
            if probe.returncode != 0:
                return None
        log = self.run(
            "log", "--no-decorate", f"--max-count={limit}", "--format=%h %s", f"{base}..{head}"
        )
        stat = self.run("diff", "--stat=100", f"{base}...{head}")
        return [line for line in log.splitlines() if line], stat

    def descend_from(self, base: str, commits: Iterable[str]) -> dict[str, bool | None]:
        """For each commit, whether its history contains ``base`` (``git merge-base
        --is-ancestor base commit``; a commit contains itself); None when this repository
        lacks it or ``base``. Two git calls whatever the number of commits."""
        asked = list(dict.fromkeys(commits))
        found: dict[str, bool | None] = dict.fromkeys(asked)
        names = [base, *(c for c in asked if _SHA.fullmatch(c))]
        if not _SHA.fullmatch(base):  # commits come from run records: never an option
            return found
        full = self._commits(names)
        if full.get(base) is None:
            return found
        present = {c: sha for c, sha in full.items() if sha is not None and c != base}
        if not present:
            return {c: True if c == base else None for c in asked}
        try:  # commits that descend from base and lead to one of ours: ours among them
            done = subprocess.run(
                ["git", "rev-list", "--ancestry-path", f"^{full[base]}", *present.values()],
                cwd=self.cwd,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            return found
        if done.returncode != 0:
            return found
        between = set(done.stdout.split())
        for commit in asked:
            sha = full.get(commit)
            if sha is not None:
                found[commit] = sha == full[base] or sha in between
        return found

    def existing(self, commits: Iterable[str]) -> dict[str, str]:
        """Of these commit names (SHAs), the ones this repository has, with their full SHA:
        one git call whatever their number."""
        names = [c for c in dict.fromkeys(commits) if _SHA.fullmatch(c)]
        if not names:
            return {}
        return {name: sha for name, sha in self._commits(names).items() if sha is not None}

    def _commits(self, names: list[str]) -> dict[str, str | None]:
        """Full SHAs of the commits this repository has (None for the others)."""
        try:
            done = subprocess.run(
                ["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                cwd=self.cwd,
                input="".join(f"{name}^{{commit}}\n" for name in names),
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            return dict.fromkeys(names)
        lines = done.stdout.splitlines() if done.returncode == 0 else []
        if len(lines) != len(names):
            return dict.fromkeys(names)
        full: dict[str, str | None] = {}
        for name, line in zip(names, lines, strict=True):
            sha, _, kind = line.partition(" ")
            full[name] = sha if kind == "commit" else None
        return full

    def show(
        self, commit: str, path: str, *, limit: int | None = None, errors: str = "strict"
    ) -> str | None:
        """A file's content at a commit, or None when the commit has no such file (or, with
        ``limit``, when it is larger than ``limit`` bytes). Text that is not UTF-8 raises
        UnicodeDecodeError unless ``errors`` says otherwise."""
        if not _SHA.fullmatch(commit) and commit != "HEAD":
            return None
        found = _read_at_most(["git", "show", f"{commit}:{path}"], self.cwd, limit)
        if found is None or found[1]:  # no such file, or larger than the limit
            return None
        return found[0].decode("utf-8", errors=errors)

    def changed_files(self, base: str, head: str) -> list[str] | None:
        """The paths whose content differs between two commits' trees (None when this
        repository lacks either)."""
        if not (_SHA.fullmatch(base) and _SHA.fullmatch(head)):
            return None
        try:
            done = subprocess.run(
                ["git", "diff", "--name-only", "-z", "--no-renames", base, head],
                cwd=self.cwd,
                capture_output=True,
                check=False,
            )
        except OSError:
            return None
        if done.returncode != 0:
            return None
        names = done.stdout.decode("utf-8", errors="replace").split("\0")
        return [name for name in names if name]

    def files(self, commit: str) -> frozenset[str]:
        """The paths of a commit's tree (empty when this repository lacks the commit)."""
        if not _SHA.fullmatch(commit):
            return frozenset()
        try:
            done = subprocess.run(
                ["git", "ls-tree", "-r", "-z", "--name-only", commit],
                cwd=self.cwd,
                capture_output=True,
                check=False,
            )
        except OSError:
            return frozenset()
        if done.returncode != 0:
            return frozenset()
        names = done.stdout.decode("utf-8", errors="replace").split("\0")
        return frozenset(name for name in names if name)

    def diff(self, base: str, head: str, *, first: Sequence[str] = (), limit: int = 20_000) -> str:
        """The unified diff of ``head`` since its merge base with ``base``, at most ``limit``
        characters: the files in ``first`` (and the folders they are in) come first, each
        file cut on its own so one large file cannot hide the others."""
        if not (_SHA.fullmatch(base) and _SHA.fullmatch(head)):
            return ""
        command = ["git", "diff", "--no-color", "--no-ext-diff", "-U3", f"{base}...{head}"]
        found = _read_at_most(command, self.cwd, limit * 20)  # never the whole of a huge diff
        if found is None:
            return ""
        text = found[0].decode("utf-8", errors="replace")
        files = [f"diff --git{chunk}" for chunk in text.split("diff --git")[1:]]
        folders = {name.rsplit("/", 1)[0] for name in first if "/" in name}

        def rank(chunk: str) -> int:
            header = chunk.split("\n", 1)[0]
            if any(f" b/{name}" in header for name in first):
                return 0
            return 1 if any(f" b/{folder}/" in header for folder in folders) else 2

        files.sort(key=rank)
        share = max(2_000, limit // max(1, len(files)))
        shown: list[str] = []
        left = limit
        for chunk in files:
            piece = chunk if len(chunk) <= share else chunk[:share] + "\n… (this file's diff cut)\n"
            if len(piece) > left:
                shown.append(f"… {len(files) - len(shown)} more file(s) not shown\n")
                break
            shown.append(piece)
            left -= len(piece)
        return "".join(shown)

    def apply_check(self, commit: str, patch: str) -> str | None:
        """None when ``patch`` applies to ``commit``'s tree (``git apply --check`` against a
        temporary index: no checkout, nothing written), else git's reason in one line."""
        if not _SHA.fullmatch(commit):
            return "not a commit"
        with tempfile.TemporaryDirectory(prefix="harness-apply-") as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            try:
                read = subprocess.run(
                    ["git", "read-tree", commit],
                    cwd=self.cwd,
                    env=env,
                    capture_output=True,
                    check=False,
                )
                if read.returncode != 0:
                    return "the run's commit is not in this repository"
                done = subprocess.run(
                    ["git", "apply", "--check", "--cached", "-"],
                    cwd=self.cwd,
                    env=env,
                    input=patch.encode("utf-8", errors="replace"),
                    capture_output=True,
                    check=False,
                    timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired):
                return "git apply could not run"
        if done.returncode == 0:
            return None
        lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        return (lines[0] if lines else f"git apply exited {done.returncode}")[:200]
