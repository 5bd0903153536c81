"""Flows that wire the parts together: launch a branch, summarise it, compare branches.

Wiring only: the logic lives in compare.py, report.py, the stores and the launchers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .compare import compare
from .config import Settings
from .errors import ConfigError, StoreError, UsageError
from .git import validate_branch
from .launchers import LaunchedRun, open_launcher
from .manifest import write_text_atomic
from .report import Report
from .runs import MetricSpec, RunStore
from .stores import open_store

__all__ = ["branch_report", "compare_report", "launch_branch", "ordered_metrics"]


def ordered_metrics(settings: Settings, first: str | None = None) -> list[MetricSpec]:
    """The declared metrics, with ``first`` moved to the front (it must be declared)."""
    metrics = list(settings.metrics)
    if not metrics:
        where = settings.source or settings.root / "harness.yaml"
        raise ConfigError(f"{where}: metrics: no metrics are declared, so nothing can be compared")
    if first is not None:
        chosen = settings.metric(first)
        if chosen is None:
            names = ", ".join(m.name for m in metrics)
            raise UsageError(f"--metric {first!r} is not declared in harness.yaml ({names})")
        metrics = [chosen, *(m for m in metrics if m is not chosen)]
    return metrics


def branch_report(
    settings: Settings,
    store: RunStore,
    branch: str,
    *,
    baseline: str | None = None,
    metric: str | None = None,
) -> Report:
    """How one branch's newest runs compare with the baseline."""
    validate_branch(branch)
    runs = store.runs()
    if not any(run.branch == branch for run in runs):
        known = sorted({r.branch for r in runs if r.branch})
        hint = f" (branches with runs: {', '.join(known)})" if known else " (the store is empty)"
        raise StoreError(f"no runs of branch {branch!r} in the store{hint}")
    comparison = compare(
        runs,
        ordered_metrics(settings, metric),
        baseline_branch=baseline or settings.baseline_branch,
        branches=[branch],
    )
    return Report("summary", comparison, warnings=tuple(store.warnings))


def compare_report(
    settings: Settings,
    store: RunStore,
    *,
    branches: Sequence[str] | None = None,
    baseline: str | None = None,
    metric: str | None = None,
) -> Report:
    """Every branch with runs (or the ones named) against the baseline."""
    for branch in branches or ():
        validate_branch(branch)
    if baseline:
        validate_branch(baseline)
    comparison = compare(
        store.runs(),
        ordered_metrics(settings, metric),
        baseline_branch=baseline or settings.baseline_branch,
        branches=branches,
    )
    return Report("compare", comparison, warnings=tuple(store.warnings))


def launch_branch(
    settings: Settings,
    branch: str,
    *,
    repo: Path,
    seeds: int | None = None,
    timeout_s: float | None = None,
    output: Callable[[str], None] | None = None,
) -> tuple[list[LaunchedRun], Report | None, Path | None]:
    """Run the branch's seeds, then write its report to ``reports/<branch>.md``."""
    validate_branch(branch)
    launcher = open_launcher(settings, repo=repo, output=output)
    runs = launcher.launch(branch, seeds=seeds, timeout_s=timeout_s)
    own = launcher.branch_settings(branch, runs[0].commit) if runs else settings
    if not own.metrics:
        return runs, None, None
    store = open_store(settings)
    report = branch_report(own, store, branch)
    path = report_path(settings, branch)
    write_text_atomic(path, report.to_markdown())
    return runs, report, path


def report_path(settings: Settings, branch: str) -> Path:
    """``reports/<branch>.md``: the local twin of the branch's PR comment."""
    return settings.home / "reports" / f"{branch}.md"
