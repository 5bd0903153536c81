"""The run-ended report for one branch: verdict, metrics, changes, curve, diagnosis.

This is what `harness analyze` writes and the PR comment shows. Core: pure rendering over
data gathered by the pipeline; never imports wandb, torch, anthropic or github. Every piece
of run content (log lines, reasons, branch names, commit subjects) is untrusted and goes
through the same escaping as report.py; the whole Markdown stays under GitHub's comment limit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .compare import BranchResult, Comparison
from .diagnose import Diagnosis, Highlight
from .report import (
    SCHEMA_VERSION,
    Report,
    _md_cell,
    _md_escape,
    headline,
    marker,
)
from .runs import Run

__all__ = ["MAX_MARKDOWN", "BranchAnalysis", "Changes", "mermaid_chart", "resample"]

MAX_MARKDOWN = 60_000  # GitHub refuses comments over 65,536 characters
CHART_POINTS = 40

Curve = Sequence[tuple[int, float]]


@dataclass(frozen=True)
class Changes:
    """What the branch changed since the baseline commit (from the checkout's git)."""

    base: str
    head: str
    commits: tuple[str, ...]
    diffstat: str


def _interpolate(curve: Curve, step: float) -> float:
    if step <= curve[0][0]:
        return curve[0][1]
    if step >= curve[-1][0]:
        return curve[-1][1]
    for (s0, v0), (s1, v1) in itertools.pairwise(curve):
        if s0 <= step <= s1:
            return v0 if s1 == s0 else v0 + (v1 - v0) * (step - s0) / (s1 - s0)
    return curve[-1][1]


def resample(curves: Sequence[Curve], grid: Sequence[float]) -> list[float]:
    """The mean of several runs' curves on one step grid (each held flat past its ends)."""
    usable = [sorted(c) for c in curves if c]
    return [sum(_interpolate(c, s) for c in usable) / len(usable) for s in grid] if usable else []


def mermaid_chart(metric: str, named: Sequence[tuple[str, Sequence[Curve]]]) -> list[str]:
    """A Mermaid xychart of one metric for each named side, resampled onto one step grid."""
    sides = [(name, [c for c in curves if c]) for name, curves in named]
    sides = [(name, curves) for name, curves in sides if curves]
    if not sides:
        return []
    steps = sorted({step for _, curves in sides for c in curves for step, _ in c})
    if len(steps) <= CHART_POINTS:  # the logged steps themselves
        grid = steps
    else:  # evenly spaced over the union of the runs' steps
        first, last = steps[0], steps[-1]
        grid = [round(first + (last - first) * i / (CHART_POINTS - 1)) for i in range(CHART_POINTS)]
    lines = ["```mermaid", "xychart-beta", f'    title "{_chart_text(metric)}"']
    lines.append(f'    x-axis "step" [{", ".join(str(s) for s in grid)}]')
    lines.append(f'    y-axis "{_chart_text(metric)}"')
    for _, curves in sides:
        values = resample(curves, grid)
        lines.append(f"    line [{', '.join(f'{v:.4g}' for v in values)}]")
    lines.append("```")
    legend = ", ".join(f"line {i} = `{_md_cell(name)}`" for i, (name, _) in enumerate(sides, 1))
    lines.append(f"_{legend}; seeds averaged, each curve held flat past its last step._")
    return lines


def _chart_text(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in " /_.-:")[:80]


@dataclass(frozen=True)
class BranchAnalysis:
    """Everything the run-ended report says about one branch."""

    comparison: Comparison
    result: BranchResult
    reported_runs: tuple[Run, ...]
    diagnoses: tuple[tuple[Run, Diagnosis], ...] = ()
    highlights: tuple[tuple[Run, Highlight], ...] = ()
    branch_curves: tuple[Curve, ...] = ()
    baseline_curves: tuple[Curve, ...] = ()
    changes: Changes | None = None
    reproduce: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    analysis: str | None = None  # sanitized text from the analysis engine
    analysis_note: str | None = None  # why there is no analysis
    analyst: str | None = None

    @property
    def branch(self) -> str:
        return self.result.branch

    @property
    def verdict(self) -> str:
        return self.result.primary_verdict

    def to_json(self) -> dict[str, Any]:
        summary = Report("summary", self.comparison, warnings=self.warnings).to_json()
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "analysis",
            "branch": self.branch,
            "verdict": self.verdict,
            "headline": headline(self.comparison, self.result),
            "reported_runs": [r.id for r in self.reported_runs],
            "comparison": summary,
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
            "changes": None
            if self.changes is None
            else {
                "base": self.changes.base,
                "head": self.changes.head,
                "commits": list(self.changes.commits),
                "diffstat": self.changes.diffstat,
            },
            "reproduce": list(self.reproduce),
            "analysis": {"engine": self.analyst, "text": self.analysis, "note": self.analysis_note},
        }

    def to_markdown(self) -> str:
        """The report, cut to fit a GitHub comment: the log excerpt shrinks first."""
        excerpt_lines = 40
        while True:
            text = self._markdown(excerpt_lines)
            if len(text) <= MAX_MARKDOWN or excerpt_lines == 0:
                return (
                    text
                    if len(text) <= MAX_MARKDOWN
                    else text[: MAX_MARKDOWN - 20] + "\n\n…(cut)\n"
                )
            excerpt_lines //= 2

    def _markdown(self, excerpt_lines: int) -> str:
        comp = self.comparison
        lines = [marker("summary", self.branch)]
        summary = Report("summary", comp).to_markdown().splitlines()[1:]  # its own marker dropped
        lines += summary
        for run, highlight in self.highlights:
            lines.append(f"- ⚠️ `{run.id}`: {_md_escape(highlight.text)}")
        spec = comp.primary
        if spec is not None and (self.branch_curves or self.baseline_curves):
            lines += ["", f"#### {_md_escape(spec.name)} over training steps", ""]
            lines += mermaid_chart(
                spec.name,
                [
                    (f"{comp.baseline_branch} (baseline)", self.baseline_curves),
                    (self.branch, self.branch_curves),
                ],
            )
        for run, diagnosis in self.diagnoses:
            lines += ["", f"#### Why `{run.id}` {run.state.value}: {diagnosis.category}", ""]
            lines.append(_md_escape(diagnosis.summary))
            shown = list(diagnosis.excerpt)[-excerpt_lines:] if excerpt_lines else []
            if shown:
                body = "\n".join(line.replace("```", "`\u200b``") for line in shown)
                lines += [
                    "",
                    "<details><summary>Log excerpt</summary>",
                    "",
                    "```text",
                    body,
                    "```",
                    "",
                    "</details>",
                ]
        if self.analysis:
            lines += ["", f"#### Analysis ({_md_escape(self.analyst or 'LLM')})", "", self.analysis]
        elif self.analysis_note:
            lines += ["", f"_Analysis skipped: {_md_escape(self.analysis_note)}._"]
        if self.changes is not None:
            changes = self.changes
            lines += [
                "",
                f"#### Changes since `{changes.base[:7]}` ({len(changes.commits)} commit(s))",
                "",
            ]
            lines += [f"- {_md_escape(c)}" for c in changes.commits[:30]]
            if changes.diffstat:
                stat = changes.diffstat.replace("```", "`\u200b``")[:4000]
                lines += ["", "```text", stat, "```"]
        if self.reproduce:
            commands = [c.replace("```", "`\u200b``") for c in self.reproduce]
            lines += ["", "#### Reproduce locally", "", "```bash", *commands, "```"]
        if self.warnings:
            lines += ["", "<details><summary>Warnings</summary>", ""]
            lines += [f"- {_md_escape(w)}" for w in self.warnings]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"
