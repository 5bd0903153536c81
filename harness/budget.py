"""Budgets that fail closed: how many runs, how many at once, and how many hours a branch
may spend (``budget:``, read from the baseline commit's harness.yaml, never the branch's).

A launch is refused before anything starts when it could pass a limit: the branch's runs
so far plus the seeds asked for; the launches going now plus this one; the hours spent
(locally wall time: each run's end minus its start, or now for a running one) plus seeds
x the per-run timeout. Without a timeout a launch cannot be bounded, so an hours budget
refuses it.

On W&B (``queue_spending``) the same limits count the branch's W&B runs (hours: each run's
start to its last heartbeat) plus its items still waiting in the Launch queue, and "at
once" is every harness run running now plus every item waiting: a launch of N seeds may
run N at once, so it asks for N. Core: pure over runs, launch records and queue items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .config import BudgetSettings
from .launches import Launch
from .manifest import parse_time
from .runs import Run, RunState

__all__ = ["Spending", "budget_json", "over_budget", "queue_spending", "spending"]


@dataclass(frozen=True)
class Spending:
    """What a branch has spent, and what is going on now."""

    runs: int  # the branch's runs, and the seeds its live launches have still to start
    hours: float  # the branch's runs' wall time
    concurrent: int  # live launches (each runs one run at a time), any branch


def _hours(runs: Sequence[Run], now: datetime) -> float:
    seconds = 0.0
    for run in runs:
        start = parse_time(run.created_at)
        end = parse_time(run.ended_at) or (now if run.state is RunState.RUNNING else None)
        if start is not None and end is not None and end > start:
            seconds += (end - start).total_seconds()
    return seconds / 3600


def spending(
    runs: Sequence[Run], launches: Sequence[Launch], branch: str, now: datetime | None = None
) -> Spending:
    now = now or datetime.now(timezone.utc)
    own = [r for r in runs if r.branch == branch]
    live = [launch for launch in launches if not launch.ended]  # every branch's
    to_start = sum(max(0, go.seeds - len(go.runs)) for go in live if go.branch == branch)
    return Spending(runs=len(own) + to_start, hours=_hours(own, now), concurrent=len(live))


def queue_spending(
    runs: Sequence[Run],
    waiting: Sequence[str],
    branch: str,
    *,
    timeout_s: float | None = None,
    now: datetime | None = None,
) -> Spending:
    """W&B: ``runs`` are the project's harness runs, ``waiting`` the branch of each queue
    item no agent has started yet; each of the branch's waiting items counts as
    ``timeout_s`` of hours already (it will spend up to that)."""
    now = now or datetime.now(timezone.utc)
    own = [r for r in runs if r.branch == branch]
    queued = sum(1 for name in waiting if name == branch)
    running = sum(1 for r in runs if r.state is RunState.RUNNING)
    return Spending(
        runs=len(own) + queued,
        hours=_hours(own, now) + queued * (timeout_s or 0.0) / 3600,
        concurrent=running + len(waiting),
    )


def over_budget(
    budget: BudgetSettings,
    spent: Spending,
    *,
    seeds: int,
    timeout_s: float | None,
    at_once: int = 1,
) -> list[str]:
    """Each limit this launch would pass, with the numbers (empty: within budget);
    ``at_once``: how many runs it may run at the same time (locally one)."""
    problems = []
    if budget.runs_per_branch is not None and spent.runs + seeds > budget.runs_per_branch:
        problems.append(
            f"runs_per_branch {budget.runs_per_branch}: {spent.runs} spent + {seeds} asked"
        )
    if budget.concurrent_runs is not None and spent.concurrent + at_once > budget.concurrent_runs:
        going = "launch(es) running" if at_once == 1 else "run(s) running or queued"
        more = "" if at_once == 1 else f" + {at_once} asked"
        problems.append(
            f"concurrent_runs {budget.concurrent_runs}: {spent.concurrent} {going}{more}"
        )
    if budget.hours_per_branch is not None:
        if timeout_s is None:
            problems.append(
                f"hours_per_branch {budget.hours_per_branch:g}: no launch.timeout, so the"
                " launch cannot be bounded"
            )
        elif spent.hours + seeds * timeout_s / 3600 > budget.hours_per_branch:
            asked = seeds * timeout_s / 3600
            problems.append(
                f"hours_per_branch {budget.hours_per_branch:g}: {spent.hours:.2f} h spent"
                f" + {seeds} x {timeout_s / 3600:.2f} h timeout = {spent.hours + asked:.2f} h"
            )
    return problems


def budget_json(budget: BudgetSettings, spent: Spending) -> dict[str, Any]:
    """Each configured limit with what is spent and what is left (``null``: no limit)."""

    def entry(limit: float | None, used: float) -> dict[str, Any] | None:
        if limit is None:
            return None
        return {"limit": limit, "spent": used, "left": max(0.0, limit - used)}

    return {
        "runs_per_branch": entry(budget.runs_per_branch, spent.runs),
        "concurrent_runs": entry(budget.concurrent_runs, spent.concurrent),
        "hours_per_branch": entry(budget.hours_per_branch, round(spent.hours, 4)),
    }
