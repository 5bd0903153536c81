"""JSON of the data every command shows: one serialiser per type, one shape for a run.

The JSON is a contract (docs/json-output.md): fields are only added; a field that changes
meaning or goes away, or a new value of an enumerated field, bumps SCHEMA_VERSION.
Strings are the data as recorded (JSON escapes what needs escaping). Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..compare import Baseline, BranchResult, Comparison, MetricComparison, Sample
from ..runs import MetricSpec, Run

__all__ = [
    "SCHEMA_VERSION",
    "baseline_json",
    "branch_json",
    "comparison_json",
    "metric_json",
    "run_json",
    "sample_json",
]

SCHEMA_VERSION = 2


def run_json(run: Run, metrics: Sequence[MetricSpec], *, config: bool = False) -> dict[str, Any]:
    """A run, the same wherever one is shown; its config only where asked (one branch)."""
    shown: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "url": run.url,
        "branch": run.branch,
        "commit": run.commit,
        "seed": run.seed,
        "state": run.state.value,
        "exit_code": run.exit_code,
        "reason": run.reason,
        "created_at": run.created_at,
        "ended_at": run.ended_at,
        "values": {
            spec.name: {
                "last": run.metric(spec.name),
                "best": run.metric(spec.name, which="best"),
                "source": run.metric_source(spec.name),
            }
            for spec in metrics
        },
        "values_from": run.values_from,
        "warnings": list(run.warnings),
    }
    if config:
        shown["config"] = dict(run.config)
    return shown


def sample_json(sample: Sample | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    return {"mean": sample.mean, "std": sample.std, "n": sample.n}


def metric_json(metric: MetricComparison) -> dict[str, Any]:
    ev = metric.evidence
    return {
        "name": metric.spec.name,
        "goal": metric.spec.goal,
        "primary": metric.spec.primary,
        "baseline": sample_json(metric.baseline),
        "value": sample_json(metric.candidate),
        "delta": metric.delta,
        "rel_delta": metric.rel_delta,
        "verdict": metric.verdict,
        "holm_verdict": metric.holm_verdict,
        "evidence": {
            "test": ev.test,
            "threshold": ev.threshold,
            "p_value": ev.p_value,
            "n_baseline": ev.n_baseline,
            "n_candidate": ev.n_candidate,
            "single_seed": ev.single_seed,
            "holm_p": ev.holm_p,
            "confidence": ev.confidence,
            "significant": ev.significant,
            "significant_after_holm": ev.significant_after_holm,
            "df": ev.df,
            "t": ev.t,
            "ci": list(ev.ci) if ev.ci else None,
            "effect_size": ev.effect_size,
            "effect_size_kind": "hedges_g",
            "spread": None,  # kept for the JSON contract: the 2-std rule it reported is gone
            "nonfinite_baseline": ev.nonfinite_baseline,
            "nonfinite_candidate": ev.nonfinite_candidate,
        },
    }


def baseline_json(
    baseline: Baseline | None, metrics: Sequence[MetricSpec], *, runs: bool = True
) -> dict[str, Any] | None:
    if baseline is None:
        return None
    shown: dict[str, Any] = {
        "branch": baseline.branch,
        "commit": baseline.commit,
        "n": len(baseline.runs),
        "running": baseline.running,
        "provisional": baseline.provisional,
        "seeds_ignored": baseline.seeds_ignored,
    }
    if runs:
        shown["runs"] = [run_json(r, metrics) for r in baseline.runs]
    return shown


def branch_json(
    comparison: Comparison, result: BranchResult, *, headline: str, config: bool = False
) -> dict[str, Any]:
    return {
        "branch": result.branch,
        "commit": result.commit,
        "is_baseline": result.branch == comparison.baseline_branch,
        "headline": headline,
        "states": result.states,
        "primary_verdict": result.primary_verdict,
        "primary_holm_verdict": result.primary_holm_verdict,
        "seeds_ignored": result.seeds_ignored,
        "evaluation_changed": list(result.evaluation_changed),
        "runs": [run_json(r, comparison.metrics, config=config) for r in result.runs],
        "metrics": [metric_json(m) for m in result.metrics],
    }


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """What every view of a comparison starts with: the baseline and the metrics."""
    return {
        "schema_version": SCHEMA_VERSION,
        "baseline_branch": comparison.baseline_branch,
        "primary_metric": comparison.primary.name if comparison.primary else None,
        "confidence": comparison.confidence,
        "metrics": [spec.as_dict() for spec in comparison.metrics],
    }
