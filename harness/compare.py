"""Comparisons of branches against the baseline, metric by metric, direction-aware.

Core: pure functions over Runs. Never imports wandb, torch, anthropic, github, scipy or
numpy (the statistics are in stats.py, in plain Python).

The baseline for a branch is the finished runs of the baseline branch at its newest commit
that has finished runs. A branch is judged on its runs at its newest commit (its group of
seeds). Each side is summarised as a Sample (mean, sample std, n over its finished runs,
one per seed: a seed run twice counts once, its newest run).
How a metric's verdict is reached (docs/statistics.md has the whole method):

- both sides with >= 2 values: Welch's t-test, two-sided, at ``confidence``; a significant
  change is ``better``/``worse`` in the metric's direction if it is also larger than the
  metric's ``min_delta`` (a practical threshold), else ``inconclusive``;
- one side with a single value and the other with >= 2: a t-test of that value against the
  other side's mean and spread (``single_t``: the prediction interval of one new run, n - 1
  degrees of freedom), judged like Welch's; flagged ``single_seed``;
- one value on each side: only ``min_delta`` decides (``min_delta``, ``single_seed``);
- across the compared branches, each metric's p-values are Holm-adjusted; the winner needs
  ``better`` after that adjustment, and a multi-seed branch outranks any single-seed one;
- a side whose seeds all gave exactly the same value of every declared metric ignored its
  seed (a script that fixes its own): its runs are copies of one, so they count as one run
  (``seeds_ignored``) and no spread is claimed from them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .runs import MetricSpec, Run, RunState
from .stats import TTest, hedges_g, holm, single_t, t_quantile, welch

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Baseline",
    "BranchResult",
    "Comparison",
    "Evidence",
    "MetricComparison",
    "Sample",
    "TestName",
    "Verdict",
    "compare",
    "compare_metric",
    "latest_runs",
    "per_seed",
    "seeds_ignored",
    "select_baseline",
]

Verdict = Literal[
    "better", "worse", "inconclusive", "missing", "failed", "baseline", "not_comparable"
]
TestName = Literal["welch_t", "single_t", "min_delta", "none"]
DEFAULT_CONFIDENCE = 0.95
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
    """How a verdict was reached.

    ``test``: ``welch_t`` (>= 2 values per side), ``single_t`` (one value on one side
    against >= 2 on the other), ``min_delta`` (one value on each side), ``none`` (no verdict
    could be tested: missing or failed). ``threshold``: the practical threshold the change
    had to exceed (``min_delta``, 0 when unset). ``p_value``, ``df``, ``t`` and ``ci`` (the
    confidence interval of the difference of means) come from the t-test (``welch_t`` or
    ``single_t``); ``holm_p`` is ``p_value`` Holm-adjusted across the compared branches.
    ``effect_size`` is Hedges' g of candidate - baseline (pooled std, small-sample
    corrected). ``nonfinite_*`` count finished runs left out because the value was NaN/inf.
    """

    test: TestName
    n_baseline: int
    n_candidate: int
    threshold: float | None = None
    p_value: float | None = None
    holm_p: float | None = None
    confidence: float = DEFAULT_CONFIDENCE
    df: float | None = None
    t: float | None = None
    effect_size: float | None = None
    ci: tuple[float, float] | None = None
    nonfinite_baseline: int = 0
    nonfinite_candidate: int = 0

    @property
    def single_seed(self) -> bool:
        return self.n_baseline <= 1 or self.n_candidate <= 1

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def significant(self) -> bool:
        """The t-test's p-value below ``1 - confidence`` (False for tests without one)."""
        return self.p_value is not None and self.p_value < self.alpha

    @property
    def significant_after_holm(self) -> bool:
        return self.holm_p is not None and self.holm_p < self.alpha


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

    @property
    def holm_verdict(self) -> Verdict:
        """The verdict once Holm's correction across the compared branches is applied: a
        t-tested ``better``/``worse`` whose adjusted p is not below alpha is ``inconclusive``.
        Verdicts without a p-value (one value per side, missing, failed) are unchanged."""
        ev = self.evidence
        if self.verdict in ("better", "worse") and ev.p_value is not None:
            return self.verdict if ev.significant_after_holm else "inconclusive"
        return self.verdict


@dataclass(frozen=True)
class Baseline:
    """The finished runs the branches are judged against; ``running`` counts the runs at
    the same commit still going (the baseline is provisional until they end)."""

    branch: str
    commit: str | None
    runs: tuple[Run, ...]
    seeds_ignored: bool = False  # every seed gave the same values: counted as one
    running: int = 0

    @property
    def provisional(self) -> bool:
        return self.running > 0

    @property
    def expected(self) -> int:
        """Runs at the baseline commit that finished or may still finish."""
        return len(self.runs) + self.running


@dataclass(frozen=True)
class BranchResult:
    branch: str
    commit: str | None
    runs: tuple[Run, ...]
    metrics: tuple[MetricComparison, ...]
    seeds_ignored: bool = False  # every seed gave the same values: counted as one
    # protected paths this commit changes (protection.py): its runs are not comparable
    evaluation_changed: tuple[str, ...] = ()

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
    def primary_holm_verdict(self) -> Verdict:
        primary = self.primary
        return primary.holm_verdict if primary else "missing"

    @property
    def improvement(self) -> float | None:
        """The primary metric's change in its good direction; None without one (or when
        the branch changed its evaluation: no rank)."""
        primary = self.primary
        return primary.improvement if primary and not self.evaluation_changed else None

    @property
    def finished(self) -> bool:
        return any(run.state is RunState.FINISHED for run in self.runs)


@dataclass(frozen=True)
class Comparison:
    baseline_branch: str
    baseline: Baseline | None
    metrics: tuple[MetricSpec, ...]
    branches: tuple[BranchResult, ...]
    confidence: float = DEFAULT_CONFIDENCE
    warnings: tuple[str, ...] = ()  # values left out (NaN/inf), in words

    @property
    def primary(self) -> MetricSpec | None:
        return next((m for m in self.metrics if m.primary), None)

    @property
    def winner(self) -> BranchResult | None:
        """The branch whose primary metric improves most among those ``better`` after Holm.

        Evidence from several seeds per side outranks a single seed: a single-seed branch
        (``better`` by ``single_t`` or ``min_delta``) wins only when no multi-seed branch is
        ``better``.
        """
        better = [b for b in self.branches if b.primary_holm_verdict == "better"]
        multi = [b for b in better if b.primary and not b.primary.evidence.single_seed]
        pool = multi or better
        return max(pool, key=lambda b: b.improvement or 0.0) if pool else None

    def ranked(self) -> tuple[BranchResult, ...]:
        """Branches by the primary metric's improvement, best first; those without a value
        (failed, missing) last, by name."""
        return tuple(
            sorted(
                self.branches,
                key=lambda b: (b.improvement is None, -(b.improvement or 0.0), b.branch),
            )
        )


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
    """Finished runs of the baseline branch at its newest commit that has finished runs,
    and how many runs at that commit are still running."""
    finished = [r for r in runs if r.branch == branch and r.state is RunState.FINISHED]
    commit, group = latest_runs(finished)
    if not group:
        return None
    seeds = {r.seed for r in group}
    running = sum(
        1
        for r in runs
        if r.branch == branch
        and r.commit == commit
        and r.state is RunState.RUNNING
        and (r.seed is None or r.seed not in seeds)  # a re-run of a finished seed adds none
    )
    return Baseline(branch, commit, group, running=running)


def per_seed(runs: Iterable[Run]) -> list[Run]:
    """The finished runs, one per seed: a seed run twice at one commit is the same sample
    again (bit for bit, when training is deterministic), so only its newest run counts.
    Runs without a seed each count."""
    newest: dict[tuple[str, object], Run] = {}
    for r in runs:
        if r.state is not RunState.FINISHED:
            continue
        key = ("seed", r.seed) if r.seed is not None else ("run", r.id)
        kept = newest.get(key)
        if kept is None or (r.created_at or "", r.id) > (kept.created_at or "", kept.id):
            newest[key] = r
    return sorted(newest.values(), key=lambda r: (r.seed is None, r.seed or 0, r.id))


def seeds_ignored(runs: Iterable[Run], metrics: Sequence[MetricSpec]) -> bool:
    """True when two or more seeds finished and gave exactly the same primary value, and
    the same last and best value of every other declared metric they logged: the script
    did not use the seed it was given. (A metric with few possible values, such as accuracy
    on a small set, can tie by chance; the other metrics must tie too.)"""
    counted = per_seed(runs)
    primary = next((m for m in metrics if m.primary), None)
    if primary is None or len(counted) < 2:
        return False
    for spec in metrics:
        for which in ("final", "best"):
            values = [r.metric(spec.name, which=which) for r in counted]
            if spec is primary and None in values:
                return False
            if len(set(values)) > 1:
                return False
    return True


def _as_one_run(runs: Sequence[Run]) -> tuple[Run, ...]:
    """The runs with the finished ones reduced to the newest: copies count once."""
    finished = [r for r in runs if r.state is RunState.FINISHED]
    newest = max(finished, key=lambda r: (r.created_at or "", r.id))
    return tuple(r for r in runs if r.state is not RunState.FINISHED or r is newest)


def _judged(
    label: str, runs: tuple[Run, ...], metrics: Sequence[MetricSpec]
) -> tuple[tuple[Run, ...], bool, list[str]]:
    """The runs a side is judged on, whether its seeds were ignored, and the warning."""
    primary = next((m for m in metrics if m.primary), None)
    if primary is None or not seeds_ignored(runs, metrics):
        return runs, False, []
    counted = per_seed(runs)
    value = counted[0].metric(primary.name)
    warning = (
        f"{label}: all {len(counted)} seeds gave exactly {primary.name} = {value:.6g} (and"
        " the same value of every other declared metric): the"
        " script ignores its seed, so they count as one run and no significance is claimed"
        " from them (pass {seed} in launch.args, or read HARNESS_SEED)"
    )
    return _as_one_run(runs), True, [warning]


def _run_notes(label: str, runs: Sequence[Run], metrics: Sequence[MetricSpec]) -> list[str]:
    """The runs' own warnings, and which value stood in for a metric never logged."""
    said = Counter(w for r in runs for w in dict.fromkeys(r.warnings))
    notes = [f"{label}: {w} ({count} of {len(runs)} run(s))" for w, count in said.items()]
    counted = per_seed(runs)
    for spec in metrics:
        sources = Counter(r.metric_source(spec.name) for r in counted)
        if sources["final"]:
            notes.append(
                f"{label}: {spec.name} was not logged during training; the final evaluation's"
                f" final/{spec.name} is used ({sources['final']} run(s))"
            )
        if sources["summary"]:
            notes.append(
                f"{label}: {spec.name} was not logged during training; the value the script"
                f" set in the W&B summary is used ({sources['summary']} run(s))"
            )
    return notes


def _sample(spec: MetricSpec, runs: Iterable[Run]) -> Sample | None:
    values = [v for v in (r.metric(spec.name) for r in per_seed(runs)) if v is not None]
    return Sample(tuple(values)) if values else None


def _nonfinite(spec: MetricSpec, runs: Iterable[Run]) -> list[str]:
    """Ids of counted finished runs whose value of the metric is NaN or infinite."""
    return [r.id for r in per_seed(runs) if r.metric_is_nonfinite(spec.name)]


def _repeated_seed_warnings(label: str, runs: Sequence[Run]) -> list[str]:
    seeds = Counter(r.seed for r in runs if r.state is RunState.FINISHED and r.seed is not None)
    return [
        f"{label}: seed {seed} finished {count} times at {runs[0].short_commit};"
        " only its newest run counts"
        for seed, count in sorted(seeds.items())
        if count > 1
    ]


def _direction(gain: float, threshold: float) -> Verdict:
    return "better" if gain > threshold else "worse" if gain < -threshold else "inconclusive"


def _judge(
    spec: MetricSpec, base: Sample, cand: Sample, confidence: float, nonfinite: tuple[int, int]
) -> tuple[Verdict, Evidence]:
    """The verdict on two non-empty samples, and the evidence for it."""
    min_delta = spec.min_delta or 0.0
    delta = cand.mean - base.mean
    gain = spec.improvement(delta)
    summaries = (base.mean, base.std, base.n), (cand.mean, cand.std, cand.n)
    plain = Evidence(
        "min_delta",
        n_baseline=base.n,
        n_candidate=cand.n,
        threshold=min_delta,
        confidence=confidence,
        effect_size=hedges_g(*summaries),
        nonfinite_baseline=nonfinite[0],
        nonfinite_candidate=nonfinite[1],
    )
    if base.n == 1 and cand.n == 1:  # no spread on either side to test against
        return _direction(gain, min_delta), plain
    if base.n >= 2 and cand.n >= 2:
        name: TestName = "welch_t"
        test = welch((base.mean, base.std or 0.0, base.n), (cand.mean, cand.std or 0.0, cand.n))
    else:
        name, test = "single_t", single_t(*summaries)
    evidence = replace(
        plain,
        test=name,
        p_value=test.p,
        df=test.df,
        t=test.t,
        ci=_interval(delta, test, confidence),
    )
    verdict = _direction(gain, min_delta) if evidence.significant else "inconclusive"
    return verdict, evidence


def _interval(delta: float, test: TTest, confidence: float) -> tuple[float, float]:
    """The ``confidence`` interval of the difference: delta ± t_(df) · se; [delta, delta]
    when the difference is exact (no spread to test against)."""
    if test.df is None:
        return delta, delta
    half = t_quantile(confidence, test.df) * test.se
    return delta - half, delta + half


def compare_metric(
    spec: MetricSpec,
    baseline_runs: Sequence[Run],
    candidate_runs: Sequence[Run],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> MetricComparison:
    """One metric of one branch against the baseline (``holm_p`` is left for ``compare``)."""
    base = _sample(spec, baseline_runs)
    cand = _sample(spec, candidate_runs)
    nonfinite = (len(_nonfinite(spec, baseline_runs)), len(_nonfinite(spec, candidate_runs)))
    if base is None or cand is None:
        evidence = Evidence(
            "none",
            n_baseline=base.n if base else 0,
            n_candidate=cand.n if cand else 0,
            confidence=confidence,
            nonfinite_baseline=nonfinite[0],
            nonfinite_candidate=nonfinite[1],
        )
        failed = (
            cand is None
            and bool(candidate_runs)
            and all(r.state in _BAD_END for r in candidate_runs)
        )
        return MetricComparison(spec, base, cand, "failed" if failed else "missing", evidence)
    verdict, evidence = _judge(spec, base, cand, confidence, nonfinite)
    return MetricComparison(spec, base, cand, verdict, evidence)


def _own_values(spec: MetricSpec, runs: Sequence[Run], confidence: float) -> MetricComparison:
    """A metric of the baseline branch itself: its sample, verdict ``baseline``."""
    cand = _sample(spec, runs)
    evidence = Evidence(
        "none",
        n_baseline=0,
        n_candidate=cand.n if cand else 0,
        confidence=confidence,
        nonfinite_candidate=len(_nonfinite(spec, runs)),
    )
    failed = cand is None and bool(runs) and all(r.state in _BAD_END for r in runs)
    return MetricComparison(spec, None, cand, "failed" if failed else "baseline", evidence)


def _not_comparable(metric: MetricComparison) -> MetricComparison:
    """The metric's values kept, its verdict and test dropped: nothing is tested."""
    evidence = Evidence(
        "none",
        n_baseline=metric.evidence.n_baseline,
        n_candidate=metric.evidence.n_candidate,
        confidence=metric.evidence.confidence,
    )
    return replace(metric, verdict="not_comparable", evidence=evidence)


def _with_holm(results: list[BranchResult], count: int) -> list[BranchResult]:
    """Each metric's p-values Holm-adjusted across the branches (the family: those with one)."""
    adjusted = [holm([r.metrics[i].evidence.p_value for r in results]) for i in range(count)]
    return [
        replace(
            result,
            metrics=tuple(
                replace(m, evidence=replace(m.evidence, holm_p=adjusted[i][j]))
                for i, m in enumerate(result.metrics)
            ),
        )
        for j, result in enumerate(results)
    ]


def _nonfinite_warnings(
    label: str, runs: Sequence[Run], metrics: Sequence[MetricSpec]
) -> list[str]:
    found = []
    for spec in metrics:
        ids = _nonfinite(spec, runs)
        if ids:
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            found.append(
                f"{label}: {spec.name} is NaN, infinite or too large to compare in {len(ids)}"
                " finished run(s)"
                f" ({shown}); left out of the comparison"
            )
    return found


def compare(
    runs: Sequence[Run],
    metrics: Sequence[MetricSpec],
    *,
    baseline_branch: str,
    branches: Sequence[str] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    evaluation_changed: Mapping[str, Sequence[str]] | None = None,
) -> Comparison:
    """Compare ``branches`` (default: all with runs, but the baseline) with the baseline.

    ``evaluation_changed``: per branch, the protected paths its newest commit changes; such
    a branch's metrics are shown with verdict ``not_comparable`` and it never wins."""
    changed_by = evaluation_changed or {}
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    label = f"baseline {baseline_branch}"
    baseline = select_baseline(baseline_branch, runs)
    base_runs, base_ignored, warnings = _judged(label, baseline.runs if baseline else (), metrics)
    if baseline is not None:
        baseline = replace(baseline, seeds_ignored=base_ignored)
    if branches is None:
        names = sorted({r.branch for r in runs if r.branch and r.branch != baseline_branch})
    else:
        names = list(dict.fromkeys(branches))
    by_branch: dict[str, list[Run]] = {name: [] for name in names}
    for r in runs:
        if r.branch in by_branch:
            by_branch[r.branch].append(r)
    warnings += _repeated_seed_warnings(label, baseline.runs if baseline else ())
    warnings += _nonfinite_warnings(label, base_runs, metrics)
    warnings += _run_notes(label, baseline.runs if baseline else (), metrics)
    results = []
    for name in names:
        commit, group = latest_runs(by_branch[name])
        judged, ignored, ignored_warning = _judged(name, group, metrics)
        warnings += ignored_warning
        warnings += _repeated_seed_warnings(name, group)
        warnings += _nonfinite_warnings(name, judged, metrics)
        warnings += _run_notes(name, group, metrics)
        changed = tuple(changed_by.get(name, ()))
        if name == baseline_branch:  # the baseline itself: its values, never a verdict
            measured = tuple(_own_values(spec, judged, confidence) for spec in metrics)
        else:
            measured = tuple(
                compare_metric(spec, base_runs, judged, confidence=confidence) for spec in metrics
            )
        if changed:  # its values are shown, never judged
            measured = tuple(_not_comparable(m) for m in measured)
            shown = ", ".join(changed[:5]) + (", …" if len(changed) > 5 else "")
            warnings.append(
                f"{name}: its commit changes protected paths ({shown}): evaluation changed,"
                " not comparable"
            )
        results.append(
            BranchResult(
                branch=name,
                commit=commit,
                runs=group,
                metrics=measured,
                seeds_ignored=ignored,
                evaluation_changed=changed,
            )
        )
    return Comparison(
        baseline_branch,
        baseline,
        tuple(metrics),
        tuple(_with_holm(results, len(metrics))),
        confidence=confidence,
        warnings=tuple(warnings),
    )
