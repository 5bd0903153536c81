"""``harness gc``: what a local store accumulates and no longer needs.

- Worktrees left under ``HARNESS_HOME/worktrees`` by a launcher that was killed before it
  could remove them (a run still running keeps its worktree).
- When asked, runs that ended more than a given age ago (their folders), and the records
  of launches that ended that long ago.

``plan_gc`` only reads; ``apply_gc`` removes what a plan names (a worktree through
``git worktree remove``, so git forgets it too). Core: the local store only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .git import Git
from .launches import FOLDER as LAUNCHES
from .manifest import parse_time, read_json
from .runs import RunState
from .stores.local import LocalStore

__all__ = ["GcPlan", "apply_gc", "plan_gc"]


@dataclass(frozen=True)
class GcPlan:
    worktrees: tuple[Path, ...]
    runs: tuple[str, ...]
    launches: tuple[Path, ...]

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "dry_run": dry_run,
            "worktrees": [str(p) for p in self.worktrees],
            "runs": list(self.runs),
            "launches": [p.stem for p in self.launches],
        }


def plan_gc(home: Path, *, older_than_s: float | None, now: datetime | None = None) -> GcPlan:
    """What ``harness gc`` would remove from the store at ``home``."""
    now = now or datetime.now(timezone.utc)
    store = LocalStore(home)
    worktrees = []
    folder = home / "worktrees"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        run = store.read(path.name) if not path.name.startswith(".") else None
        if run is None or run.state is not RunState.RUNNING:  # crashed, when its owner died
            worktrees.append(path)
    runs: list[str] = []
    launches: list[Path] = []
    if older_than_s is not None:
        cutoff = now - timedelta(seconds=older_than_s)
        for run in store.runs():
            ended = parse_time(run.ended_at) or (
                parse_time(run.created_at) if run.state.ended else None
            )
            if run.state is not RunState.RUNNING and ended is not None and ended < cutoff:
                runs.append(run.id)
        for path in sorted((home / LAUNCHES).glob("*.json")):
            try:
                ended = parse_time(read_json(path).get("ended_at"))
            except (OSError, ValueError):
                continue
            if ended is not None and ended < cutoff:
                launches.append(path)
    return GcPlan(tuple(worktrees), tuple(runs), tuple(launches))


def apply_gc(plan: GcPlan, home: Path, repo: Path | None) -> None:
    """Remove what ``plan`` names."""
    git = Git(repo) if repo is not None else None
    for path in plan.worktrees:
        if git is not None:
            git.run("worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
    if git is not None and plan.worktrees:
        git.run("worktree", "prune", check=False)
    for run_id in plan.runs:
        shutil.rmtree(home / "runs" / run_id, ignore_errors=True)
    for path in plan.launches:
        path.unlink(missing_ok=True)
