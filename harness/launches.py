"""Local launch records: what a ``launch-job`` process set out to run, so that a waiter
knows when every run of a branch's commit has ended (a launch runs its seeds one after
another: between two seeds, every run there is has ended, yet more are coming).

``HARNESS_HOME/launches/<id>.json`` = ``{"id", "branch", "commit", "seeds", "runs",
"owner", "created_at", "ended_at"}``; ``ended_at`` is set when the launcher is done, and a
launch whose owner is provably gone (liveness.py) counts as ended. Core.
"""

from __future__ import annotations

try:
    import fcntl
except ImportError:  # not on Windows: no lock there
    fcntl = None  # type: ignore[assignment]
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .liveness import owner_gone, this_process
from .manifest import new_run_id, now_iso, read_json, write_json_atomic

__all__ = [
    "Launch",
    "LaunchRecord",
    "launch_lock",
    "launches",
    "live_launches",
    "recorded_launch",
    "start_launch",
]

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
    """The record of a launch in progress: runs are added as they start; ``end`` when done."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def add_run(self, run_id: str) -> None:
        self.data["runs"].append(run_id)
        write_json_atomic(self.path, self.data)

    def end(self) -> None:
        self.data["ended_at"] = now_iso()
        write_json_atomic(self.path, self.data)


def start_launch(home: Path, branch: str, commit: str, seeds: int) -> LaunchRecord:
    """A new launch record, written before any run starts (a waiter sees it at once)."""
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
    return LaunchRecord(path, data)


@contextmanager
def recorded_launch(
    home: Path, branch: str, commit: str, seeds: int, record: LaunchRecord | None = None
) -> Iterator[LaunchRecord]:
    """The launch record for the ``with`` block (``record``, or a new one); ended when the
    block exits, however it exits."""
    record = record or start_launch(home, branch, commit, seeds)
    try:
        yield record
    finally:
        record.end()


@contextmanager
def launch_lock(home: Path) -> Iterator[None]:
    """One launcher at a time between checking a budget and recording its launch, so two
    parallel launches cannot both slip through (an advisory lock on this machine)."""
    path = home / FOLDER / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _all(home: Path) -> list[Launch]:
    folder = home / FOLDER
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(Launch.from_record(read_json(path)))
        except (OSError, ValueError, TypeError):
            continue  # an unreadable record: skipped
    return found


def launches(home: Path, branch: str, commit: str | None = None) -> list[Launch]:
    """The launches of ``branch`` (at ``commit``, when given)."""
    return [
        launch
        for launch in _all(home)
        if launch.branch == branch and (commit is None or launch.commit == commit)
    ]


def live_launches(home: Path) -> list[Launch]:
    """Every branch's launches still going."""
    return [launch for launch in _all(home) if not launch.ended]
