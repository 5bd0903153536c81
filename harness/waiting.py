"""Waiting for a branch's runs to end: what ``check-results wait`` does.

A waiter asks a backend for the state of the runs launched for a branch's commit until
they have all ended; runs that have not appeared yet (an agent that pushes and waits at
once) are waited for until the timeout. Locally the answer comes from the launch records
(launches.py: a launch still going may start more runs) and the runs' manifests, read
afresh a few times a second: no busy loop, and a run whose launcher died reads as
crashed (liveness.py), so no wait hangs on a run that can never end. Core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .launches import launches
from .runs import Run, RunState
from .stores.local import LocalStore

__all__ = ["LocalProgress", "Progress", "WaitTimeout", "wait_until_ended"]

LOCAL_POLL_S = 0.2
RESCAN_S = 5.0  # how often the whole store is read again for runs of no launch record


@dataclass(frozen=True)
class Progress:
    """Where a branch's commit stands: its runs so far, and whether more may come."""

    runs: tuple[Run, ...]
    launching: bool  # a launch is still going (or items are still queued)

    @property
    def ended(self) -> int:
        return sum(1 for r in self.runs if r.state is not RunState.RUNNING)

    @property
    def done(self) -> bool:
        """Something was launched, nothing is launching, and every run has ended."""
        return bool(self.runs) and not self.launching and self.ended == len(self.runs)

    def describe(self) -> str:
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
