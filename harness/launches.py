"""Local launch records: what a ``launch-job`` process set out to run, so that a waiter
knows when every run of a branch's commit has ended (a launch runs its seeds one after
another: between two seeds, every run there is has ended, yet more are coming).

``HARNESS_HOME/launches/<id>.json`` = ``{"id", "branch", "commit", "seeds", "runs",
"owner", "created_at", "ended_at"}``; ``ended_at`` is set when the launcher is done, and a
launch whose owner is provably gone (liveness.py) counts as ended. Core.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .liveness import owner_gone, this_process
from .manifest import new_run_id, now_iso, read_json, write_json_atomic

__all__ = ["Launch", "LaunchRecord", "launches", "recorded_launch"]

FOLDER = "launches"


@dataclass(frozen=True)
class Launch:
    """One launch of a branch's commit, as its record says."""

    id: str
    branch: str
    commit: str
    seeds: int
    runs: tuple[str, ...]
    ended: bool  # the launcher is done, or provably gone

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Launch:
        runs = data.get("runs")
        return cls(
            id=str(data.get("id")),
            branch=str(data.get("branch")),
            commit=str(data.get("commit")),
            seeds=int(data.get("seeds") or 0),
            runs=tuple(str(r) for r in runs) if isinstance(runs, list) else (),
            ended=bool(data.get("ended_at")) or owner_gone(data.get("owner")),
        )


class LaunchRecord:
    """The record of the launch in progress: runs are added as they start."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def add_run(self, run_id: str) -> None:
        self.data["runs"].append(run_id)
        write_json_atomic(self.path, self.data)


@contextmanager
def recorded_launch(home: Path, branch: str, commit: str, seeds: int) -> Iterator[LaunchRecord]:
    """A launch record for the ``with`` block; ended when it exits, however it exits."""
    launch_id = new_run_id()
    path = home / FOLDER / f"{launch_id}.json"
    data: dict[str, Any] = {
        "id": launch_id,
        "branch": branch,
        "commit": commit,
        "seeds": seeds,
        "runs": [],
        "owner": this_process(),
        "created_at": now_iso(),
        "ended_at": None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)
    record = LaunchRecord(path, data)
    try:
        yield record
    finally:
        data["ended_at"] = now_iso()
        write_json_atomic(path, data)


def launches(home: Path, branch: str, commit: str | None = None) -> list[Launch]:
    """The launches of ``branch`` (at ``commit``, when given); unreadable records skipped."""
    folder = home / FOLDER
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            launch = Launch.from_record(read_json(path))
        except (OSError, ValueError, TypeError):
            continue
        if launch.branch == branch and (commit is None or launch.commit == commit):
            found.append(launch)
    return found
