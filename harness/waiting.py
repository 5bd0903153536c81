"""Waiting for a branch's runs to end: what ``check-results wait`` does.

A waiter asks a backend for the state of the runs launched for a branch's commit until
they have all ended; runs that have not appeared yet (an agent that pushes and waits at
once) are waited for until the timeout. Locally the answer comes from the launch records
(launches.py: a launch still going may start more runs) and the runs' manifests, read
afresh a few times a second: no busy loop, and a run whose launcher died reads as
crashed (liveness.py), so no wait hangs on a run that can never end.

On W&B (``WandbProgress``) each poll asks for the branch's runs at the commit and, when a
Launch queue is configured, for the queue's items (launchers/wandb_queue.py): an item of
this commit that no agent has started yet is a run still to come, and one its agent failed
to start is an ended, failed run. W&B marks a run whose heartbeats stopped as crashed, so
no run stays running there either. Polls back off (``backoff``) with jitter, so many
waiting agents neither hammer W&B nor ask in step. Core: wandb is imported only when a
W&B progress is first asked.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .launches import launches
from .runs import Run, RunState
from .stores.local import LocalStore

__all__ = [
    "LocalProgress",
    "Progress",
    "WaitTimeout",
    "WandbProgress",
    "backoff",
    "wait_until_ended",
]

RESCAN_S = 5.0  # how often the whole store is read again for runs of no launch record
MAX_POLL_FAILURES = 3  # W&B polls in a row that may fail before wait gives up (exit 2)


@dataclass(frozen=True)
class Progress:
    """Where a branch's commit stands: its runs so far, and whether more may come."""

    runs: tuple[Run, ...]
    launching: bool  # a launch is still going (or items are still queued)
    queued: int = 0  # W&B: items of the commit no agent has started yet

    @property
    def ended(self) -> int:
        return sum(1 for r in self.runs if r.state is not RunState.RUNNING)

    @property
    def done(self) -> bool:
        """Something was launched, nothing is launching, and every run has ended."""
        return bool(self.runs) and not self.launching and self.ended == len(self.runs)

    @property
    def seen(self) -> bool:
        return bool(self.runs) or self.queued > 0

    def describe(self) -> str:
        if not self.seen:
            return "no run yet"
        if self.queued:
            return f"{self.ended} of {len(self.runs)} run(s) ended, {self.queued} queued"
        more = ", more to come" if self.launching else ""
        return f"{self.ended} of {len(self.runs)} run(s) ended{more}"


class WaitTimeout(Exception):
    """The runs did not all end in time; carries the last progress seen."""

    def __init__(self, progress: Progress | None, waited_s: float) -> None:
        super().__init__("timed out")
        self.progress, self.waited_s = progress, waited_s


class LocalProgress:
    """The progress of ``branch`` at ``commit`` in a local store, read cheaply: the runs of
    its launch records each poll, the whole store only every RESCAN_S."""

    def __init__(self, home: Path, branch: str, commit: str) -> None:
        self.home, self.branch, self.commit = home, branch, commit
        self.known: set[str] = set()
        self.scanned_at = -RESCAN_S

    def __call__(self) -> Progress:
        found = launches(self.home, self.branch, self.commit)
        store = LocalStore(self.home)
        if time.monotonic() - self.scanned_at >= RESCAN_S:
            self.scanned_at = time.monotonic()
            self.known |= {r.id for r in store.runs(branch=self.branch) if r.commit == self.commit}
        self.known |= {run_id for launch in found for run_id in launch.runs}
        runs = [run for run in (store.read(run_id) for run_id in sorted(self.known)) if run]
        return Progress(tuple(runs), launching=any(not launch.ended for launch in found))


class WandbProgress:
    """The progress of ``branch`` at ``commit`` on W&B: its runs, and the items of the
    Launch queue (``launch.queue``) queued for that commit."""

    def __init__(self, settings: Settings, branch: str, commit: str) -> None:
        self.settings, self.branch, self.commit = settings, branch, commit
        self.unstarted: tuple[Run, ...] = ()  # items an agent failed to start, as runs
        self._api: Any = None
        self._path = ""
        self._reader: Any = None
        self._last: Progress | None = None
        self._failures = 0

    def _connect(self) -> Any:
        if self._api is None:
            from .launchers.wandb_queue import QueueReader
            from .stores.wandb import connect

            self._api, entity = connect(self.settings)
            self._path = f"{entity}/{self.settings.wandb.project}"
            if self.settings.launch.queue:
                self._reader = QueueReader(self._api, entity, self.settings.launch.queue)
        return self._api

    def _runs(self) -> list[Run]:
        from .stores.wandb import run_from_wandb

        wanted = {"$and": [{"config.branch": self.branch}, {"config.commit": self.commit}]}
        api = self._connect()
        api.flush()  # wandb.Api keeps the runs it listed: each poll must ask afresh
        found = api.runs(self._path, filters=wanted, per_page=200, lazy=False)
        return [run_from_wandb(raw) for raw in found]

    def _ours(self, config: Any) -> bool:
        return bool(config.get("branch") == self.branch and config.get("commit") == self.commit)

    def __call__(self) -> Progress:
        from .errors import StoreError
        from .stores.wandb import call_wandb

        where = f"{self.branch}@{self.commit[:7]}"
        try:
            runs = call_wandb(f"list the runs of {where}", self._runs)
            items = []
            if self._reader is not None:
                queue = self.settings.launch.queue
                items = call_wandb(f"read W&B Launch queue {queue!r}", self._reader.items)
        except StoreError:  # W&B did not answer: a few polls in a row may fail
            self._failures += 1
            if self._failures > MAX_POLL_FAILURES or self._last is None:
                raise
            return self._last
        self._failures = 0
        entity, project = self._path.split("/", 1)
        started = {run.id for run in runs}
        covered = {run.seed for run in runs}  # seeds with a run, or an item still to start
        queued, failed = 0, []
        for item in items:
            if not item.in_project(entity, project):
                continue
            if not self._ours(item.run_config) or {item.run_id, item.spec_run_id} & started:
                continue
            if item.failed:
                failed.append(item)
            elif item.state != "FINISHED":  # queued, or started and not visible yet
                queued += 1
                covered.add(item.run_config.get("seed"))
        # An item that failed to start counts, unless its seed was launched again since.
        self.unstarted = tuple(
            self._unstarted(item) for item in failed if item.run_config.get("seed") not in covered
        )
        self._last = Progress(tuple(runs) + self.unstarted, launching=queued > 0, queued=queued)
        return self._last

    def _unstarted(self, item: Any) -> Run:
        config = item.run_config
        seed = config.get("seed")
        why = item.error or "W&B gives no reason"
        return Run(
            id=item.spec_run_id or f"item-{item.id}",
            state=RunState.FAILED,
            branch=self.branch,
            commit=self.commit,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            group=config.get("group") if isinstance(config.get("group"), str) else None,
            reason=f"the launch agent could not start it: {why}",
        )


def backoff(longest_s: float, first_s: float = 1.0) -> Callable[[int], float]:
    """Pauses that grow by half each poll up to ``longest_s``, each with +-25% jitter."""

    def pause(attempt: int) -> float:
        base = min(longest_s, first_s * 1.5 ** min(attempt, 60))
        return min(longest_s, base * random.uniform(0.75, 1.25))

    return pause


def wait_until_ended(
    progress: Callable[[], Progress],
    *,
    timeout_s: float,
    poll_s: Callable[[int], float],
    on_change: Callable[[Progress], None] = lambda p: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Ask ``progress`` until it is done; ``poll_s(attempt)`` is the pause before the next
    ask. WaitTimeout when ``timeout_s`` passes first."""
    started = clock()
    last: Progress | None = None
    said = None
    attempt = 0
    while True:
        last = progress()
        if last.done:
            return last
        shown = last.describe()
        if shown != said:
            on_change(last)
            said = shown
        left = timeout_s - (clock() - started)
        if left <= 0:
            raise WaitTimeout(last, clock() - started)
        sleep(min(poll_s(attempt), left))
        attempt += 1
