"""The leaderboard: every branch ranked on the primary metric against the baseline.

Rendered as Markdown, rich text and JSON (the JSON is a contract: docs/statistics.md).
Ranking and the winner come from the Comparison (compare.py); this module adds the
``stale`` flags the pipeline found in git and lays the rows out. Core: never imports
wandb, torch, anthropic or github.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .compare import BranchResult, Comparison, MetricComparison
from .render import markdown, terminal
from .render.document import Block, Column, Document, Inline, Paragraph, Span, Table, Warnings
from .render.phrases import fmt_delta, fmt_g, fmt_p, fmt_sample, fmt_states, method_note, short
from .render.serialize import baseline_json, comparison_json, metric_json, sample_json
from .report import comparison_head, verdict_span

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Leaderboard", "Standing"]


@dataclass(frozen=True)
class Standing:
    """One row: a branch, its rank (None without a primary value), and its flags."""

    rank: int | None
    result: BranchResult
    stale: bool | None
    winner: bool

    @property
    def primary(self) -> MetricComparison | None:
        return self.result.primary

    @property
    def flags(self) -> list[str]:
        primary = self.primary
        flags = []
        if self.winner:
            flags.append("winner")
        if primary is not None and primary.verdict in ("better", "worse"):
            if primary.evidence.single_seed:
                flags.append("single seed")
            if primary.holm_verdict != primary.verdict:
                flags.append("not after Holm")
        if self.stale:
            flags.append("stale")
        return flags


def _cells(s: Standing) -> list[Inline]:
    """The statistics of a row: the primary metric's value, Δ, g, p and Holm p, then value
    and Δ of each secondary metric."""
    p = s.primary
    cells = [
        fmt_sample(p.candidate) if p else "—",
        fmt_delta(p) if p else "—",
        fmt_g(p),
        fmt_p(p.evidence.p_value) if p else "—",
        fmt_p(p.evidence.holm_p) if p else "—",
    ]
    for m in s.result.metrics:
        if not m.spec.primary:
            cells += [fmt_sample(m.candidate), fmt_delta(m)]
    return [(Span(cell),) for cell in cells]


@dataclass(frozen=True)
class Leaderboard:
    """A comparison shown as a ranking, with each branch's staleness (None: unknown)."""

    comparison: Comparison
    stale: Mapping[str, bool | None] = field(default_factory=dict)
    warnings: Sequence[str] = ()

    def standings(self) -> list[Standing]:
        winner = self.comparison.winner
        rows, rank = [], 0
        for result in self.comparison.ranked():
            ranked = result.improvement is not None
            rank += ranked
            rows.append(
                Standing(
                    rank=rank if ranked else None,
                    result=result,
                    stale=self.stale.get(result.branch),
                    winner=winner is not None and result.branch == winner.branch,
                )
            )
        return rows

    @property
    def all_warnings(self) -> list[str]:
        return [*self.warnings, *self.comparison.warnings]

    # JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        comp = self.comparison
        winner = comp.winner
        return {
            **comparison_json(comp),
            "kind": "leaderboard",
            "baseline": baseline_json(comp.baseline, comp.metrics, runs=False),
            "entries": [self._entry_json(s) for s in self.standings()],
            "winner": winner.branch if winner else None,
            "winner_single_seed": bool(winner.primary and winner.primary.evidence.single_seed)
            if winner
            else None,
            "warnings": self.all_warnings,
        }

    def _entry_json(self, standing: Standing) -> dict[str, Any]:
        result, primary = standing.result, standing.primary
        ev = primary.evidence if primary else None
        return {
            "rank": standing.rank,
            "branch": result.branch,
            "commit": result.commit,
            "stale": standing.stale,
            "winner": standing.winner,
            "states": result.states,
            "verdict": result.primary_verdict,
            "holm_verdict": result.primary_holm_verdict,
            "single_seed": ev.single_seed if ev else None,
            "test": ev.test if ev else None,
            "n": ev.n_candidate if ev else 0,
            "value": sample_json(primary.candidate) if primary else None,
            "delta": primary.delta if primary else None,
            "rel_delta": primary.rel_delta if primary else None,
            "improvement": result.improvement,
            "effect_size": ev.effect_size if ev else None,
            "p_value": ev.p_value if ev else None,
            "holm_p": ev.holm_p if ev else None,
            "flags": standing.flags,
            "metrics": [metric_json(m) for m in result.metrics],
        }

    # View ---------------------------------------------------------------------------------

    def document(self) -> Document:
        comp = self.comparison
        blocks: list[Block] = comparison_head(comp)
        standings = self.standings()
        if not standings:
            blocks.append(Paragraph((Span("No experiment branches have runs yet."),)))
        else:
            blocks += [self._table(standings), self._note()]
        blocks.append(Warnings(tuple(self.all_warnings)))
        return Document(tuple(blocks), markdown.marker("leaderboard"))

    def _table(self, standings: list[Standing]) -> Table:
        comp = self.comparison
        primary = comp.primary.name if comp.primary else "primary"
        columns = [Column("#", "right"), Column("branch"), Column("commit"), Column("runs")]
        columns += [Column("verdict"), Column(f"{primary} (primary)", "right")]
        columns += [Column(name, "right") for name in ("Δ", "g", "p", "Holm p")]
        for spec in comp.metrics:
            if not spec.primary:
                columns += [Column(spec.name, "right"), Column("Δ", "right")]
        columns.append(Column("flags"))
        rows: list[tuple[Inline, ...]] = []
        for s in standings:
            flags = ", ".join(("🏆 " + f) if f == "winner" else f for f in s.flags)
            rows.append(
                (
                    (Span("" if s.rank is None else str(s.rank)),),
                    (Span(s.result.branch, "code"),),
                    (Span(short(s.result.commit), "code"),),
                    (Span(fmt_states(s.result.states)),),
                    (verdict_span(s.result.primary_verdict),),
                    *_cells(s),
                    (Span(flags, "good" if s.winner else "dim"),),
                )
            )
        base = comp.baseline
        if base is not None and comp.branches:
            first = comp.branches[0]
            row: list[Inline] = [
                (),
                (Span(comp.baseline_branch, "code"), Span(" (baseline)", "dim")),
                (Span(short(base.commit), "code"),),
                (Span(fmt_states({"finished": len(base.runs)})),),
                (),
                (Span(fmt_sample(first.primary.baseline) if first.primary else "—"),),
                (),
                (),
                (),
                (),
            ]
            for m in first.metrics:
                if not m.spec.primary:
                    row += [(Span(fmt_sample(m.baseline)),), ()]
            rows.append((*row, ()))
        return Table(tuple(columns), tuple(rows))

    def _note(self) -> Paragraph:
        text = f"{method_note(self.comparison)} Stale: made on top of an older baseline commit."
        return Paragraph((Span(text),), small=True)

    def to_markdown(self) -> str:
        return markdown.render(self.document())

    def render(self, console: Console) -> None:
        terminal.render(self.document(), console)
