"""The run-ended report of one branch: verdict, metrics, curve, failures, changes, and the
analysis engine's answer. This is what `harness analyze` writes and the PR comment shows.

Core: a view over data the pipeline gathered; never imports wandb, torch, anthropic or
github. Everything from runs, git and the engine is plain text in the view model and made
inert by the renderers; the Markdown stays under GitHub's comment limit (whole sections
are left out from the end, never cut mid-way).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .compare import BranchResult, Comparison
from .diagnose import Diagnosis, Highlight
from .failures import Failure
from .render import markdown
from .render.document import (
    Block,
    Chart,
    Code,
    Document,
    Heading,
    Items,
    Paragraph,
    Prose,
    Span,
    Warnings,
    inline,
)
from .render.phrases import headline, short
from .render.serialize import SCHEMA_VERSION
from .report import Report
from .runs import Run

__all__ = [
    "MAX_MARKDOWN",
    "Answer",
    "BranchAnalysis",
    "Changes",
    "CurveSummary",
    "ParamChange",
    "metric_chart",
    "resample",
    "summarize_curves",
]

MAX_MARKDOWN = 60_000  # GitHub refuses comments over 65,536 characters
CHART_POINTS = 40
MAX_COMMITS = 30
MAX_EXCERPT_LINES = 40
MAX_DIFF_LINES = 150

Curve = Sequence[tuple[int, float]]


@dataclass(frozen=True)
class Changes:
    """What the branch changed since the baseline commit (from the checkout's git)."""

    base: str
    head: str
    commits: tuple[str, ...]
    diffstat: str
    diff: str = ""  # the unified diff, bounded (the experiment's files first)


@dataclass(frozen=True)
class ParamChange:
    """A hyperparameter whose values differ between the baseline's runs and the branch's."""

    key: str
    baseline: tuple[str, ...]
    branch: tuple[str, ...]


@dataclass(frozen=True)
class CurveSummary:
    """One side's curve of a metric in numbers: where it started, ended and peaked."""

    metric: str
    side: str
    runs: int
    first: float
    last: float
    best: float
    best_step: int
    last_step: int


@dataclass(frozen=True)
class Answer:
    """The analysis engine's answer, parsed from its JSON and checked. ``patch`` is kept
    only when ``git apply --check`` accepted it at the run's commit; ``patch_note`` says
    why one was dropped."""

    what_happened: str
    likely_cause: str = ""
    next_step: str = ""
    patch: str | None = None
    patch_note: str | None = None
    structured: bool = True  # False: the engine answered in prose, shown as such

    def as_dict(self) -> dict[str, Any]:
        return {
            "what_happened": self.what_happened,
            "likely_cause": self.likely_cause,
            "next_step": self.next_step,
            "patch": self.patch,
            "patch_note": self.patch_note,
            "structured": self.structured,
        }


def _interpolate(curve: Curve, step: float) -> float:
    if step <= curve[0][0]:
        return curve[0][1]
    if step >= curve[-1][0]:
        return curve[-1][1]
    for (s0, v0), (s1, v1) in itertools.pairwise(curve):
        if s0 <= step <= s1:
            return v0 if s1 == s0 else v0 + (v1 - v0) * (step - s0) / (s1 - s0)
    return curve[-1][1]


def finite(curve: Curve) -> list[tuple[int, float]]:
    """The curve's points whose value is a finite number, by step."""
    return sorted((s, v) for s, v in curve if isinstance(v, (int, float)) and math.isfinite(v))


def resample(curves: Sequence[Curve], grid: Sequence[float]) -> list[float]:
    """The mean of several runs' curves on one step grid (each held flat past its ends)."""
    usable = [c for c in (finite(c) for c in curves) if c]
    return [sum(_interpolate(c, s) for c in usable) / len(usable) for s in grid] if usable else []


def metric_chart(metric: str, named: Sequence[tuple[str, Sequence[Curve]]]) -> Chart | None:
    """One metric for each named side, its seeds averaged on one step grid."""
    sides = [(name, [c for c in (finite(c) for c in curves) if c]) for name, curves in named]
    sides = [(name, curves) for name, curves in sides if curves]
    if not sides:
        return None
    steps = sorted({step for _, curves in sides for c in curves for step, _ in c})
    if len(steps) <= CHART_POINTS:  # the logged steps themselves
        grid = steps
    else:  # evenly spaced over the union of the runs' steps
        first, last = steps[0], steps[-1]
        grid = [round(first + (last - first) * i / (CHART_POINTS - 1)) for i in range(CHART_POINTS)]
    series = tuple((name, tuple(resample(curves, grid))) for name, curves in sides)
    note = "seeds averaged, each curve held flat past its last step"
    return Chart(metric, tuple(int(s) for s in grid), series, note)


def summarize_curves(
    metric: str, side: str, curves: Sequence[Curve], goal: str
) -> CurveSummary | None:
    """The side's mean curve in numbers (None without a finite point)."""
    usable = [c for c in (finite(c) for c in curves) if c]
    if not usable:
        return None
    steps = sorted({s for c in usable for s, _ in c})
    mean = list(zip(steps, resample(usable, steps), strict=True))
    pick = max if goal == "maximize" else min
    best_step, best = pick(mean, key=lambda p: p[1])
    return CurveSummary(
        metric, side, len(usable), mean[0][1], mean[-1][1], best, best_step, steps[-1]
    )


@dataclass(frozen=True)
class BranchAnalysis:
    """Everything the run-ended report says about one branch."""

    comparison: Comparison
    result: BranchResult
    reported_runs: tuple[Run, ...]
    diagnoses: tuple[tuple[Run, Diagnosis], ...] = ()
    failures: tuple[Failure, ...] = ()
    highlights: tuple[tuple[Run, Highlight], ...] = ()
    branch_curves: tuple[Curve, ...] = ()
    baseline_curves: tuple[Curve, ...] = ()
    curves: tuple[CurveSummary, ...] = ()
    params: tuple[ParamChange, ...] = ()
    changes: Changes | None = None
    reproduce: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    answer: Answer | None = None
    analysis_note: str | None = None  # why there is no analysis
    analyst: str | None = None

    @property
    def branch(self) -> str:
        return self.result.branch

    @property
    def verdict(self) -> str:
        return self.result.primary_verdict

    @property
    def is_baseline(self) -> bool:
        return self.branch == self.comparison.baseline_branch

    @property
    def provisional(self) -> bool:
        """Judged while baseline runs at the baseline commit still run: made again later."""
        base = self.comparison.baseline
        return base is not None and base.provisional and not self.is_baseline

    @property
    def marked_runs(self) -> tuple[Run, ...]:
        """The runs to mark reported once delivered: none while the report is provisional."""
        return () if self.provisional else self.reported_runs

    # JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        summary = Report("summary", self.comparison, warnings=self.warnings).to_json()
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "analysis",
            "branch": self.branch,
            "verdict": self.verdict,
            "headline": headline(self.comparison, self.result),
            "provisional": self.provisional,
            "reported_runs": [r.id for r in self.reported_runs],
            "comparison": summary,
            "failures": [_failure_json(f) for f in self.failures],
            "diagnoses": [
                {
                    "run": run.id,
                    "category": d.category,
                    "summary": d.summary,
                    "excerpt": list(d.excerpt),
                }
                for run, d in self.diagnoses
            ],
            "highlights": [
                {"run": run.id, "kind": h.kind, "text": h.text} for run, h in self.highlights
            ],
            "curves": [asdict(c) for c in self.curves],
            "hyperparameters": [
                {"key": p.key, "baseline": list(p.baseline), "branch": list(p.branch)}
                for p in self.params
            ],
            "changes": None
            if self.changes is None
            else {
                "base": self.changes.base,
                "head": self.changes.head,
                "commits": list(self.changes.commits),
                "diffstat": self.changes.diffstat,
                "diff": self.changes.diff,
            },
            "reproduce": list(self.reproduce),
            "analysis": {
                "engine": self.analyst,
                "note": self.analysis_note,
                "answer": self.answer.as_dict() if self.answer else None,
            },
        }

    def prompt_data(self) -> dict[str, Any]:
        """What the analysis engine is shown: the report's facts, without the rendering."""
        data = self.to_json()
        data.pop("diagnoses")  # the failures hold them, grouped
        data.pop("analysis")
        data.pop("reproduce")
        comparison = data.pop("comparison")
        data["baseline"] = comparison["baseline"] and {
            k: v for k, v in comparison["baseline"].items() if k != "runs"
        }
        data["metrics"] = comparison["branches"][0]["metrics"] if comparison["branches"] else []
        data["runs"] = [
            {k: r[k] for k in ("id", "seed", "state", "exit_code", "reason", "values")}
            for r in (comparison["branches"][0]["runs"] if comparison["branches"] else [])
        ]
        data["warnings"] = comparison["warnings"]
        return data

    # View ---------------------------------------------------------------------------------

    def document(self, excerpt_lines: int = MAX_EXCERPT_LINES) -> Document:
        comp = self.comparison
        blocks: list[Block] = list(Report("summary", comp).blocks())
        if self.provisional:
            blocks.insert(
                1, Paragraph(inline(Span("⏳ Provisional: the baseline is still running.", "warn")))
            )
        if self.highlights:
            blocks.append(
                Items(
                    tuple(
                        inline("⚠️ ", Span(run.id, "code"), ": ", h.text)
                        for run, h in self.highlights
                    )
                )
            )
        spec = comp.primary
        if spec is not None:
            chart = metric_chart(
                spec.name,
                [
                    (f"{comp.baseline_branch} (baseline)", self.baseline_curves),
                    (self.branch, self.branch_curves),
                ],
            )
            if chart is not None:
                blocks += [
                    Heading(inline(spec.name, " over training steps"), level=4),
                    chart,
                ]
        for failure in self.failures:
            blocks += _failure_blocks(failure, len(self.result.runs), excerpt_lines)
        blocks += self._answer_blocks()
        if self.changes is not None:
            blocks += _change_blocks(self.changes)
        if self.params:
            shown = [
                inline(
                    Span(p.key, "code"),
                    f": {', '.join(p.baseline) or '—'} → {', '.join(p.branch) or '—'}",
                )
                for p in self.params[:30]
            ]
            blocks += [
                Heading(inline("Hyperparameters that differ from the baseline"), level=4),
                Items(tuple(shown)),
            ]
        if self.reproduce:
            blocks += [Heading(inline("Reproduce locally"), level=4), Code(self.reproduce, "bash")]
        said = dict.fromkeys([*self.warnings, *comp.warnings])  # each once, in order
        blocks.append(Warnings(tuple(said)))
        return Document(tuple(blocks), markdown.marker("summary", self.branch))

    def _answer_blocks(self) -> list[Block]:
        if self.answer is None:
            if self.analysis_note:
                return [Paragraph(inline(Span(f"Analysis skipped: {self.analysis_note}.", "dim")))]
            return []
        answer = self.answer
        blocks: list[Block] = [Heading(inline(f"Analysis ({self.analyst or 'LLM'})"), level=4)]
        if not answer.structured:
            return [*blocks, Prose(answer.what_happened)]
        for title, text in (
            ("What happened", answer.what_happened),
            ("Likely cause", answer.likely_cause),
            ("Next step", answer.next_step),
        ):
            if text.strip():
                blocks += [Paragraph(inline(Span(title, "strong"))), Prose(text)]
        if answer.patch:
            blocks += [
                Paragraph(
                    inline(
                        Span("Suggested patch", "strong"),
                        f" (applies cleanly at {short(self.result.commit)})",
                    )
                ),
                Code(tuple(answer.patch.splitlines()[:200]), "diff"),
            ]
        elif answer.patch_note:
            blocks.append(Paragraph(inline(Span(answer.patch_note, "dim"))))
        return blocks

    def to_markdown(self) -> str:
        """The report, cut to fit a GitHub comment: the log excerpts shrink first, then
        whole sections go from the end."""
        excerpt_lines = MAX_EXCERPT_LINES
        while True:
            doc = self.document(excerpt_lines)
            text = markdown.render(doc)
            if len(text) <= MAX_MARKDOWN or excerpt_lines == 0:
                return (
                    text if len(text) <= MAX_MARKDOWN else markdown.render(doc, limit=MAX_MARKDOWN)
                )
            excerpt_lines //= 2


def _failure_json(failure: Failure) -> dict[str, Any]:
    tb, source = failure.traceback, failure.source
    return {
        "runs": [r.id for r in failure.runs],
        "seeds": failure.seeds,
        "category": failure.diagnosis.category,
        "summary": failure.diagnosis.summary,
        "exception": tb.exception if tb else None,
        "frames": [
            {"path": f.repo_path, "line": f.line, "function": f.function, "code": f.code}
            for f in (tb.frames if tb else ())
            if f.in_repo
        ],
        "library_frames": sum(1 for f in tb.frames if not f.in_repo) if tb else 0,
        "excerpt": list(failure.excerpt),
        "source": None
        if source is None
        else {
            "path": source.path,
            "line": source.line,
            "lines": [{"line": n, "text": t} for n, t in source.lines],
        },
    }


def _failure_blocks(failure: Failure, total: int, excerpt_lines: int) -> list[Block]:
    runs = failure.runs
    count = f"{len(runs)} of {total} run(s)" if total > 1 else f"run {runs[0].id}"
    seeds = failure.seeds
    if total > 1 and seeds:
        count += f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds[:10]))})"
    tb = failure.traceback
    what = tb.exception if tb and tb.exception else failure.diagnosis.summary
    state = runs[0].state.value
    blocks: list[Block] = [
        Heading(inline(f"💥 {count} {state}: ", failure.diagnosis.category), "bad", level=4),
        Paragraph(inline(Span(what, "code"))),
    ]
    if failure.source is not None:
        src = failure.source
        blocks += [
            Paragraph(inline("At ", Span(f"{src.path}:{src.line}", "code"), ":")),
            Code(tuple(src.shown()), "text"),
        ]
    shown = list(failure.excerpt)[-excerpt_lines:] if excerpt_lines else []
    if shown:
        blocks.append(
            Code(tuple(shown), "text", title="Traceback" if tb and tb.exception else "Log excerpt")
        )
    return blocks


def _change_blocks(changes: Changes) -> list[Block]:
    title = inline(
        "Changes since ", Span(changes.base[:7], "code"), f" ({len(changes.commits)} commit(s))"
    )
    blocks: list[Block] = [Heading(title, level=4)]
    if changes.commits:
        blocks.append(Items(tuple(inline(c[:200]) for c in changes.commits[:MAX_COMMITS])))
    if changes.diffstat:
        blocks.append(Code(tuple(changes.diffstat[:4000].splitlines()[:60]), "text"))
    if changes.diff:
        lines = changes.diff.splitlines()
        shown = lines[:MAX_DIFF_LINES]
        if len(lines) > MAX_DIFF_LINES:
            shown.append(f"… {len(lines) - MAX_DIFF_LINES} more line(s)")
        blocks.append(Code(tuple(shown), "diff", title="Diff"))
    return blocks
