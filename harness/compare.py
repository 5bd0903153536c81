"""Comparisons of branches against the baseline, metric by metric, direction-aware.

Core: pure functions over Runs. Never imports wandb, torch, anthropic or github.

The baseline for a branch is the finished runs of the baseline branch at its newest commit
that has finished runs. A branch is judged on its runs at its newest commit (its group of
seeds). Each side is summarised as a Sample (mean, spread, n) so that several seeds per side
fit the same shapes; today's verdict compares the mean change with the metric's
``min_delta`` (0 when unset), and the evidence records which test decided it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .runs import MetricSpec, Run, RunState

__all__ = [
    "Baseline",
    "BranchResult",
    "Comparison",
    "Evidence",
    "MetricComparison",
    "Sample",
    "Verdict",
    "compare",
    "compare_metric",
    "latest_runs",
    "select_baseline",
]

Verdict = Literal["better", "worse", "inconclusive", "missing", "failed"]
_BAD_END = (RunState.FAILED, RunState.CRASHED)


@dataclass(frozen=True)
class Sample:
    """One metric's values over the runs (seeds) of one side."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation; None with fewer than two values."""
        if len(self.values) < 2:
            return None
        mean = self.mean
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (len(self.values) - 1))


@dataclass(frozen=True)
class Evidence:
    """How a verdict was reached. ``p_value`` is filled by tests that compute one."""

    test: str
    n_baseline: int
    n_candidate: int
    threshold: float | None = None
    p_value: float | None = None

    @property
    def single_seed(self) -> bool:
        return self.n_baseline <= 1 or self.n_candidate <= 1


@dataclass(frozen=True)
class MetricComparison:
    spec: MetricSpec
    baseline: Sample | None
    candidate: Sample | None
    verdict: Verdict
    evidence: Evidence

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate.mean - self.baseline.mean

    @property
    def rel_delta(self) -> float | None:
        delta = self.delta
        if delta is None or self.baseline is None or self.baseline.mean == 0:
            return None
        return delta / abs(self.baseline.mean)

    @property
    def improvement(self) -> float | None:
        """The change in the metric's good direction (positive = better)."""
        delta = self.delta
        return None if delta is None else self.spec.improvement(delta)


@dataclass(frozen=True)
class Baseline:
    branch: str
    commit: str | None
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class BranchResult:
    branch: str
    commit: str | None
    runs: tuple[Run, ...]
    metrics: tuple[MetricComparison, ...]

    @property
    def states(self) -> dict[str, int]:
        return dict(Counter(run.state.value for run in self.runs))

    @property
    def primary(self) -> MetricComparison | None:
        return next((m for m in self.metrics if m.spec.primary), None)

    @property
    def primary_verdict(self) -> Verdict:
        primary = self.primary
        return primary.verdict if primary else "missing"

    @property
    def finished(self) -> bool:
        return any(run.state is RunState.FINISHED for run in self.runs)


@dataclass(frozen=True)
class Comparison:
    baseline_branch: str
    baseline: Baseline | None
    metrics: tuple[MetricSpec, ...]
    branches: tuple[BranchResult, ...]

    @property
    def primary(self) -> MetricSpec | None:
        return next((m for m in self.metrics if m.primary), None)

    @property
    def winner(self) -> BranchResult | None:
        """The branch whose primary metric improves most among those judged ``better``."""
        better = [
            b for b in self.branches if b.primary_verdict == "better" and b.primary is not None
        ]
        if not better:
            return None
        return max(better, key=lambda b: (b.primary.improvement or 0.0) if b.primary else 0.0)


def latest_runs(runs: Sequence[Run]) -> tuple[str | None, tuple[Run, ...]]:
    """The newest commit among ``runs`` (by creation time) and all runs at that commit."""
    if not runs:
        return None, ()
    newest = max(runs, key=lambda r: (r.created_at or "", r.id))
    same = sorted(
        (r for r in runs if r.commit == newest.commit),
        key=lambda r: (r.seed is None, r.seed or 0, r.created_at or "", r.id),
    )
    return newest.commit, tuple(same)


def select_baseline(branch: str, runs: Sequence[Run]) -> Baseline | None:
    """Finished runs of the baseline branch at its newest commit that has finished runs."""
    finished = [r for r in runs if r.branch == branch and r.state is RunState.FINISHED]
    commit, group = latest_runs(finished)
    return Baseline(branch, commit, group) if group else None


def _sample(spec: MetricSpec, runs: Iterable[Run]) -> Sample | None:
    values = [
        v
        for v in (r.metric(spec.name) for r in runs if r.state is RunState.FINISHED)
        if v is not None
    ]
    return Sample(tuple(values)) if values else None


def compare_metric(
    spec: MetricSpec, baseline_runs: Sequence[Run], candidate_runs: Sequence[Run]
) -> MetricComparison:
    base = _sample(spec, baseline_runs)
    cand = _sample(spec, candidate_runs)
    threshold = spec.min_delta or 0.0
    evidence = Evidence(
        test="min_delta",
        n_baseline=base.n if base else 0,
        n_candidate=cand.n if cand else 0,
        threshold=threshold,
    )
    verdict: Verdict
    if cand is None and candidate_runs and all(r.state in _BAD_END for r in candidate_runs):
        verdict = "failed"
    elif base is None or cand is None:
        verdict = "missing"
    else:
        gain = spec.improvement(cand.mean - base.mean)
        verdict = "better" if gain > threshold else "worse" if gain < -threshold else "inconclusive"
    return MetricComparison(spec, base, cand, verdict, evidence)


def compare(
    runs: Sequence[Run],
    metrics: Sequence[MetricSpec],
    *,
    baseline_branch: str,
    branches: Sequence[str] | None = None,
) -> Comparison:
    """Compare ``branches`` (default: all with runs, but the baseline) with the baseline."""
    baseline = select_baseline(baseline_branch, runs)
    base_runs = baseline.runs if baseline else ()
    if branches is None:
        names = sorted({r.branch for r in runs if r.branch and r.branch != baseline_branch})
    else:
        names = list(dict.fromkeys(branches))
    results = []
    for name in names:
        commit, group = latest_runs([r for r in runs if r.branch == name])
        results.append(
            BranchResult(
                branch=name,
                commit=commit,
                runs=group,
                metrics=tuple(compare_metric(spec, base_runs, group) for spec in metrics),
            )
        )
    return Comparison(baseline_branch, baseline, tuple(metrics), tuple(results))
