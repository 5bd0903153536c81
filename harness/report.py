"""Reports of one Comparison: ``summary`` (one branch) and ``compare`` (many), built once
as a Document and rendered as Markdown (PRs, job summaries), in the terminal, or as JSON.

The JSON is a contract (docs/json-output.md). Markdown starts with a hidden marker so the
same PR comment can be updated in place. Core: never imports wandb, torch, anthropic or
github.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .compare import BranchResult, Comparison, MetricComparison, Verdict
from .render import markdown, terminal
from .render.document import (
    Block,
    Column,
    Document,
    Heading,
    Inline,
    Paragraph,
    Span,
    Table,
    Warnings,
    inline,
)
from .render.phrases import (
    ICONS,
    IGNORED_SEEDS,
    STATE_TAGS,
    VERDICT_TAGS,
    baseline_line,
    capital,
    fmt_delta,
    fmt_evidence,
    fmt_sample,
    fmt_states,
    goal_arrow,
    headline,
    method_note,
    no_winner,
    short,
)
from .render.serialize import SCHEMA_VERSION, baseline_json, branch_json, comparison_json
from .runs import Run

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SCHEMA_VERSION",
    "Report",
    "comparison_blocks",
    "comparison_head",
    "headline",
    "no_winner",
    "runs_table",
    "verdict_span",
]

ReportKind = Literal["compare", "summary"]


def verdict_span(verdict: Verdict) -> Span:
    return Span(f"{ICONS[verdict]} {verdict}", VERDICT_TAGS[verdict])


def _num(text: str) -> Inline:
    return (Span(text),)


def runs_table(runs: Sequence[Run]) -> Table:
    """A branch's runs: id (a link to its page when it has one), seed, state, exit, note."""
    columns = (
        Column("run"),
        Column("seed", "right"),
        Column("state"),
        Column("exit code", "right"),
        Column("note"),
    )
    rows = tuple(
        (
            (Span(run.id, "code", url=run.url),),
            _num("" if run.seed is None else str(run.seed)),
            (Span(run.state.value, STATE_TAGS.get(run.state.value, "")),),
            _num("" if run.exit_code is None else str(run.exit_code)),
            (Span(run.reason or ""),),
        )
        for run in runs
    )
    return Table(columns, rows)


def _metric_name(metric: MetricComparison) -> Inline:
    return (Span(metric.spec.name, "strong" if metric.spec.primary else ""),)


def _summary_blocks(comp: Comparison, result: BranchResult) -> list[Block]:
    verdict = result.primary_verdict
    blocks: list[Block] = [
        Heading(inline(f"{ICONS[verdict]} ", headline(comp, result)), VERDICT_TAGS[verdict]),
        Paragraph(baseline_line(comp)),
    ]
    if result.seeds_ignored:
        blocks.append(Paragraph(inline(Span(f"⚠️ {IGNORED_SEEDS}", "warn"))))
    if verdict == "baseline" or result.branch == comp.baseline_branch:
        blocks.append(_own_metrics_table(result))
    else:
        blocks.append(_metrics_table(comp, result))
    blocks += [
        Paragraph(inline("Runs at ", Span(short(result.commit), "code"), ":")),
        runs_table(result.runs),
    ]
    if result.branch != comp.baseline_branch:
        blocks.append(Paragraph(inline(method_note(comp)), small=True))
    return blocks


def _metrics_table(comp: Comparison, result: BranchResult) -> Table:
    columns = (
        Column("metric"),
        Column("goal", "center"),
        Column(comp.baseline_branch, "right"),
        Column(result.branch, "right"),
        Column("Δ", "right"),
        Column("verdict"),
        Column("evidence"),
    )
    rows = tuple(
        (
            _metric_name(m),
            _num(goal_arrow(m)),
            _num(fmt_sample(m.baseline)),
            _num(fmt_sample(m.candidate)),
            _num(fmt_delta(m)),
            (verdict_span(m.verdict),),
            _num(fmt_evidence(m)),
        )
        for m in result.metrics
    )
    return Table(columns, rows)


def _own_metrics_table(result: BranchResult) -> Table:
    """The baseline branch's own values: no comparison with itself."""
    columns = (Column("metric"), Column("goal", "center"), Column(result.branch, "right"))
    rows = tuple(
        (_metric_name(m), _num(goal_arrow(m)), _num(fmt_sample(m.candidate)))
        for m in result.metrics
    )
    return Table(columns, rows)


def comparison_head(comp: Comparison) -> list[Block]:
    """The winner (or why there is none) and the baseline: what every view of many
    branches starts with."""
    winner = comp.winner
    title = (
        inline("🏆 Winner: ", headline(comp, winner))
        if winner
        else inline(capital(no_winner(comp)))
    )
    return [Heading(title, "good" if winner else ""), Paragraph(baseline_line(comp))]


def comparison_blocks(comp: Comparison) -> list[Block]:
    """The winner (or why none), the baseline, and one row per branch with the baseline's."""
    blocks = comparison_head(comp)
    if not comp.branches:
        return [*blocks, Paragraph(inline("No experiment branches have runs yet."))]
    columns = [Column("branch"), Column("commit"), Column("runs"), Column("verdict")]
    for spec in comp.metrics:
        columns += [Column(spec.name + (" (primary)" if spec.primary else ""), "right")]
        columns += [Column("Δ", "right")]
    columns.append(Column("evidence"))
    rows: list[tuple[Inline, ...]] = []
    for b in comp.branches:
        row: list[Inline] = [
            (Span(b.branch, "code"),),
            (Span(short(b.commit), "code"),),
            _num(fmt_states(b.states)),
            (verdict_span(b.primary_verdict),),
        ]
        for m in b.metrics:
            row += [_num(fmt_sample(m.candidate)), _num(fmt_delta(m))]
        row.append(_num(fmt_evidence(b.primary) if b.primary else "—"))
        rows.append(tuple(row))
    if comp.baseline is not None:
        base = comp.baseline
        row = [
            (Span(comp.baseline_branch, "code"), Span(" (baseline)", "dim")),
            (Span(short(base.commit), "code"),),
            _num(
                fmt_states(
                    {"finished": len(base.runs), "running": base.running}
                    if base.running
                    else {"finished": len(base.runs)}
                )
            ),
            (),
        ]
        for m in comp.branches[0].metrics:
            row += [_num(fmt_sample(m.baseline)), ()]
        row.append(())
        rows.append(tuple(row))
    blocks += [Table(tuple(columns), tuple(rows)), Paragraph(inline(method_note(comp)), small=True)]
    return blocks


def budget_line(budget: Mapping[str, Any]) -> str:
    """``Budget: 3 of 10 runs, 0.5 of 4 h``: each limit set, spent of limit."""
    names = {
        "runs_per_branch": "runs",
        "concurrent_runs": "running at once",
        "hours_per_branch": "h",
    }
    parts = [
        f"{entry['spent']:g} of {entry['limit']:g} {names[key]}"
        for key, entry in budget.items()
        if isinstance(entry, Mapping)
    ]
    return "Budget: " + ", ".join(parts) + "." if parts else ""


@dataclass(frozen=True)
class Report:
    """A comparison to show: ``summary`` focuses on one branch, ``compare`` on many."""

    kind: ReportKind
    comparison: Comparison
    warnings: Sequence[str] = ()
    budget: Mapping[str, Any] | None = None  # the focused branch's budget (budget_json)

    @property
    def focus(self) -> BranchResult | None:
        branches = self.comparison.branches
        return branches[0] if self.kind == "summary" and branches else None

    def verdict(self) -> Verdict | None:
        focus = self.focus
        return focus.primary_verdict if focus else None

    @property
    def all_warnings(self) -> list[str]:
        """The store's warnings, then the comparison's (values left out)."""
        return [*self.warnings, *self.comparison.warnings]

    def blocks(self) -> list[Block]:
        """The report's content without its warnings (a branch's analysis adds its own)."""
        focus = self.focus
        return (
            _summary_blocks(self.comparison, focus) if focus else comparison_blocks(self.comparison)
        )

    def document(self) -> Document:
        focus = self.focus
        blocks = [*self.blocks()]
        if self.budget:
            blocks.append(Paragraph(inline(budget_line(self.budget)), small=True))
        blocks.append(Warnings(tuple(self.all_warnings)))
        return Document(tuple(blocks), markdown.marker(self.kind, focus.branch if focus else None))

    def to_json(self) -> dict[str, Any]:
        comp = self.comparison
        winner = comp.winner
        detailed = self.kind == "summary"
        return {
            **comparison_json(comp),
            "kind": self.kind,
            "baseline": baseline_json(comp.baseline, comp.metrics),
            "branches": [
                branch_json(comp, b, headline=headline(comp, b), config=detailed)
                for b in comp.branches
            ],
            "winner": winner.branch if winner else None,
            "budget": dict(self.budget) if self.budget else None,
            "warnings": self.all_warnings,
        }

    def to_markdown(self) -> str:
        return markdown.render(self.document())

    def render(self, console: Console) -> None:
        terminal.render(self.document(), console)
