"""The words and numbers every rendering shares: how a value, a p-value, a change, a
verdict and its evidence are written, and the one-sentence headline of a branch.

Plain strings (no markup of any format): the renderers make them inert. Core.
"""

from __future__ import annotations

from ..compare import BranchResult, Comparison, MetricComparison, Sample, Verdict
from .document import Inline, Span, Tag, inline

__all__ = [
    "ICONS",
    "IGNORED_SEEDS",
    "STATE_TAGS",
    "VERDICT_TAGS",
    "baseline_line",
    "capital",
    "fmt_delta",
    "fmt_evidence",
    "fmt_g",
    "fmt_number",
    "fmt_p",
    "fmt_sample",
    "fmt_states",
    "goal_arrow",
    "headline",
    "method_note",
    "no_winner",
    "short",
]

ICONS: dict[Verdict, str] = {
    "better": "✅",
    "worse": "🔻",
    "inconclusive": "⚪",
    "missing": "❔",
    "failed": "💥",
    "baseline": "📏",
    "not_comparable": "🚫",
}
VERDICT_TAGS: dict[Verdict, Tag] = {
    "better": "good",
    "worse": "bad",
    "inconclusive": "warn",
    "missing": "muted",
    "failed": "bad",
    "baseline": "info",
    "not_comparable": "bad",
}
STATE_TAGS: dict[str, Tag] = {
    "finished": "good",
    "failed": "bad",
    "crashed": "bad",
    "running": "info",
}
IGNORED_SEEDS = (
    "Every seed gave exactly the same values: the script ignores its seed, so its runs count"
    " as one (see the warnings)."
)


def short(commit: str | None) -> str:
    return commit[:7] if commit else "?"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def fmt_number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def fmt_sample(sample: Sample | None) -> str:
    if sample is None:
        return "—"
    if sample.n == 1:
        return fmt_number(sample.mean)
    std = "—" if sample.std is None else f"{sample.std:.2g}"  # a spread needs 2 digits, not 4
    return f"{fmt_number(sample.mean)} ± {std} (n={sample.n})"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    if p == 0:
        return "0"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def fmt_g(metric: MetricComparison | None) -> str:
    size = metric.evidence.effect_size if metric else None
    return "—" if size is None else f"{size:+.2f}"


def fmt_delta(metric: MetricComparison) -> str:
    delta = metric.delta
    if delta is None:
        return "—"
    text = f"{delta:+.4g}"
    if metric.rel_delta is not None:
        text += f" ({metric.rel_delta:+.1%})"
    return text


def fmt_states(states: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no runs"


def goal_arrow(metric: MetricComparison) -> str:
    return "↑" if metric.spec.goal == "maximize" else "↓"


def fmt_evidence(metric: MetricComparison) -> str:
    """The evidence behind a verdict, in a few words: p, Holm p, effect size; or why not."""
    ev = metric.evidence
    if ev.test == "min_delta":
        return f"single seed, |Δ| vs min_delta {fmt_number(ev.threshold)}"
    if ev.test == "none":
        return "—"
    if ev.df is None:
        found = "exact difference" if ev.p_value == 0 else "equal"
        if ev.test == "welch_t":
            return f"no seed spread: {found}"
        return f"{_single_side(metric)}, no spread in the {_sample_side(metric)}'s seeds: {found}"
    parts = [f"p={fmt_p(ev.p_value)}"]
    if ev.holm_p is not None and ev.holm_p != ev.p_value:
        parts.append(f"Holm p={fmt_p(ev.holm_p)}")
    if ev.effect_size is not None:
        parts.append(f"g={ev.effect_size:+.2f}")
    if ev.test == "welch_t":
        return ", ".join(parts)
    return (
        f"{_single_side(metric)}, t-test vs the {_sample_side(metric)}'s spread"
        f" ({', '.join(parts)})"
    )


def _single_side(metric: MetricComparison) -> str:
    return "single seed" if metric.evidence.n_candidate == 1 else "single baseline seed"


def _sample_side(metric: MetricComparison) -> str:
    return "baseline" if metric.evidence.n_candidate == 1 else "branch"


def method_note(comparison: Comparison) -> str:
    """How the verdicts were reached, in one sentence (docs/statistics.md has the details)."""
    level = f"{comparison.confidence * 100:g}%"
    return (
        f"Verdicts: a t-test at {level} confidence (Welch's when both sides have 2+ seeds; a"
        " single seed against the other side's seed spread), and the change must exceed"
        " min_delta; with one seed per side, min_delta alone. The winner must stay better"
        " after Holm's correction across the branches compared; several seeds beat a single one."
    )


def baseline_line(comparison: Comparison) -> Inline:
    """Which runs the branches are judged against; says so when some are still running."""
    base = comparison.baseline
    if base is None:
        return inline(
            "Baseline: no finished run on ", Span(comparison.baseline_branch, "code"), " yet."
        )
    where = inline("Baseline: ", Span(base.branch, "code"), " @ ", Span(short(base.commit), "code"))
    if base.provisional:
        return (
            *where,
            Span(f": {len(base.runs)} of {base.expected} seeds finished", "warn"),
            Span(". Provisional: made again when the baseline's other runs end."),
        )
    return (*where, Span(f" ({len(base.runs)} run(s))."))


def headline(comparison: Comparison, result: BranchResult) -> str:
    """One sentence: how the branch did on the primary metric."""
    base = comparison.baseline_branch
    primary = result.primary
    if result.runs and all(r.state.value in ("failed", "crashed") for r in result.runs):
        return f"{result.branch}: every run at {short(result.commit)} failed or crashed"
    if primary is None:
        return f"{result.branch}: no primary metric is declared in harness.yaml"
    if result.evaluation_changed:
        shown = ", ".join(result.evaluation_changed[:3])
        more = (
            f" and {len(result.evaluation_changed) - 3} more"
            if len(result.evaluation_changed) > 3
            else ""
        )
        return f"{result.branch}: evaluation changed ({shown}{more}), not comparable with {base}"
    if result.branch == base:
        return f"{base} is the baseline: {primary.spec.name} {fmt_sample(primary.candidate)}"
    name = primary.spec.name
    if comparison.baseline is None:
        return f"{result.branch}: no finished run on the baseline branch {base} to compare with"
    if primary.candidate is None and primary.evidence.nonfinite_candidate:
        return (
            f"{result.branch}: {name} is NaN, infinite or too large to compare in every"
            " finished run"
            f" ({fmt_states(result.states)})"
        )
    if primary.candidate is None:
        return f"{result.branch}: no value of {name} yet ({fmt_states(result.states)})"
    if primary.baseline is None:
        return f"{result.branch}: no value of {name} on the baseline {base} to compare with"
    change = (
        f"{fmt_sample(primary.candidate)} vs {fmt_sample(primary.baseline)}, {fmt_delta(primary)}"
    )
    return f"{_verdict_text(primary, result.branch, base)}: {change} — {fmt_evidence(primary)}"


def _verdict_text(metric: MetricComparison, branch: str, base: str) -> str:
    name, ev = metric.spec.name, metric.evidence
    if metric.verdict == "better":
        return f"{branch} beats {base} on {name}"
    if metric.verdict == "worse":
        return f"{branch} is worse than {base} on {name}"
    if metric.verdict != "inconclusive":
        return f"{branch} vs {base} on {name}"
    if ev.p_value is not None and ev.significant:
        return f"{branch} changes {name} by less than min_delta from {base}"
    if ev.p_value is not None:
        return f"{branch} is not significantly different from {base} on {name}"
    return f"{branch} is within min_delta of {base} on {name}"


def no_winner(comparison: Comparison) -> str:
    """Why there is no winner; names branches that were better only before Holm's correction."""
    primary = comparison.primary.name if comparison.primary else "the primary metric"
    text = f"no branch beats {comparison.baseline_branch} on {primary}"
    demoted = [
        b
        for b in comparison.branches
        if b.primary is not None
        and b.primary_verdict == "better"
        and b.primary_holm_verdict != "better"
    ]
    if demoted:
        demoted.sort(key=lambda b: b.primary.evidence.p_value or 0.0 if b.primary else 0.0)
        shown = "; ".join(
            f"{b.branch}: {fmt_evidence(b.primary)}" for b in demoted[:3] if b.primary
        )
        more = f"; {len(demoted) - 3} more" if len(demoted) > 3 else ""
        text += f" after Holm's correction across the branches ({shown}{more})"
    return text
