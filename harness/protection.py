"""Protected evaluation: the paths a branch may not change for its runs to be compared.

A branch that changes how it is scored (the harness's tracking, the workflows, the
metrics it is judged on, an evaluation file an experiment declares) could win without
being better. Its runs are comparable only when every protected path is byte-identical to
the baseline commit's. What is protected is always read from the **baseline commit's**
``harness.yaml`` (a branch cannot unprotect its own changes): the defaults, plus its
``protected:`` list. These are guardrails against mistakes and careless agents, checked
in git: a process with a shell can still log any number it likes.
Core: git through harness.git; no other I/O.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from .config import CONFIG_FILE, parse_config_text
from .errors import ConfigError
from .git import Git

__all__ = [
    "DEFAULT_PROTECTED",
    "PROTECTED_KEYS",
    "config_at",
    "evaluation_changes",
    "protected_paths",
]

DEFAULT_PROTECTED = ("harness/", ".github/", "actions/")
PROTECTED_KEYS = ("metrics", "protected", "budget")  # of harness.yaml


def config_at(git: Git, commit: str) -> object:
    """A commit's harness.yaml, parsed (None when the commit has none); ConfigError when it
    is not valid YAML."""
    text = git.show(commit, CONFIG_FILE, errors="replace")
    return None if text is None else parse_config_text(text, f"{CONFIG_FILE} at {commit[:7]}")


def protected_paths(git: Git, base: str) -> tuple[str, ...]:
    """The defaults and the ``protected:`` list of the baseline commit's harness.yaml."""
    try:
        data = config_at(git, base)
    except ConfigError:
        data = None
    listed = data.get("protected") if isinstance(data, dict) else None
    extra: Iterable[object] = listed if isinstance(listed, list) else ()
    return (*DEFAULT_PROTECTED, *(p for p in extra if isinstance(p, str) and p))


def _matches(path: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return path.startswith(pattern)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern


def _config_keys(git: Git, commit: str) -> dict[str, object] | None:
    """The protected keys of a commit's harness.yaml; None when it cannot be read (the
    launcher then refuses the branch for that, with the config's own error)."""
    try:
        data = config_at(git, commit)
    except ConfigError:
        return None
    if data is None:
        return {}
    return {k: data.get(k) for k in PROTECTED_KEYS} if isinstance(data, dict) else None


def evaluation_changes(
    git: Git, base: str, head: str, patterns: Sequence[str] | None = None
) -> list[str] | None:
    """What ``head`` changes of the protected paths since ``base``: file paths, and
    ``harness.yaml: <key>`` for a protected key. None when either commit is missing."""
    if base == head:
        return []
    changed = git.changed_files(base, head)
    if changed is None:
        return None
    patterns = protected_paths(git, base) if patterns is None else patterns
    found = [path for path in changed if any(_matches(path, p) for p in patterns)]
    before, after = _config_keys(git, base), _config_keys(git, head)
    if CONFIG_FILE in changed and before is not None and after is not None:
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                found.append(f"{CONFIG_FILE}: {key}")
    return found
