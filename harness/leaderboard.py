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
from .report import (
    _ICONS,
    _STYLES,
    SCHEMA_VERSION,
    Report,
    _capital,
    _md_cell,
    _md_escape,
    _metric_json,
    _sample_json,
    _short,
    _table,
    fmt_delta,
    fmt_p,
    fmt_sample,
    fmt_states,
    headline,
    method_note,
    no_winner,
    print_header,
)

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


def _cells(s: Standing) -> list[str]:
    """The statistics of a row, the same in Markdown and in the terminal: the primary
    metric's value, Δ, g, p and Holm p, then value and Δ of each secondary metric."""
    p = s.primary
    cells = [
        fmt_sample(p.candidate) if p else "—",
        fmt_delta(p) if p else "—",
        _g(p),
        fmt_p(p.evidence.p_value) if p else "—",
        fmt_p(p.evidence.holm_p) if p else "—",
    ]
    for m in s.result.metrics:
        if not m.spec.primary:
            cells += [fmt_sample(m.candidate), fmt_delta(m)]
    return cells


def _g(metric: MetricComparison | None) -> str:
    size = metric.evidence.effect_size if metric else None
    return "—" if size is None else f"{size:+.2f}"


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
        baseline, winner = comp.baseline, comp.winner
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "leaderboard",
            "baseline_branch": comp.baseline_branch,
            "baseline": None
            if baseline is None
            else {"branch": baseline.branch, "commit": baseline.commit, "n": len(baseline.runs)},
            "primary_metric": comp.primary.name if comp.primary else None,
            "confidence": comp.confidence,
            "metrics": [spec.as_dict() for spec in comp.metrics],
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
            "value": _sample_json(primary.candidate) if primary else None,
            "delta": primary.delta if primary else None,
            "rel_delta": primary.rel_delta if primary else None,
            "improvement": result.improvement,
            "effect_size": ev.effect_size if ev else None,
            "p_value": ev.p_value if ev else None,
            "holm_p": ev.holm_p if ev else None,
            "flags": standing.flags,
            "metrics": [_metric_json(m) for m in result.metrics],
        }

    # Markdown -----------------------------------------------------------------------------

    def to_markdown(self) -> str:
        comp = self.comparison
        winner = comp.winner
        lines = ["<!-- harness:leaderboard -->"]
        lines.append(
            f"### 🏆 Winner: {_md_escape(headline(comp, winner))}"
            if winner
            else f"### {_md_escape(_capital(no_winner(comp)))}"
        )
        lines.append("")
        base = comp.baseline
        lines.append(Report("compare", comp)._md_baseline())
        lines.append("")
        standings = self.standings()
        if not standings:
            return "\n".join([*lines, "No experiment branches have runs yet."]) + "\n"
        primary = comp.primary.name if comp.primary else "primary"
        head = ["#", "branch", "commit", "runs", "verdict", f"{_md_cell(primary)} (primary)"]
        head += ["Δ", "g", "p", "Holm p"]
        secondary = [m for m in comp.metrics if not m.primary]
        for spec in secondary:
            head += [_md_cell(spec.name), "Δ"]
        head.append("flags")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in standings:
            row = [
                "" if s.rank is None else str(s.rank),
                f"`{_md_cell(s.result.branch)}`",
                f"`{_short(s.result.commit)}`",
                fmt_states(s.result.states),
                f"{_ICONS[s.result.primary_verdict]} {s.result.primary_verdict}",
                *_cells(s),
            ]
            row.append(", ".join(("🏆 " + f) if f == "winner" else f for f in s.flags))
            lines.append("| " + " | ".join(row) + " |")
        if base is not None:
            first = comp.branches[0]
            row = ["", f"`{_md_cell(comp.baseline_branch)}` (baseline)", f"`{_short(base.commit)}`"]
            row += [fmt_states({"finished": len(base.runs)}), ""]
            row += [fmt_sample(first.primary.baseline) if first.primary else "—", "", "", "", ""]
            for m in first.metrics:
                if not m.spec.primary:
                    row += [fmt_sample(m.baseline), ""]
            lines.append("| " + " | ".join([*row, ""]) + " |")
        lines += [
            "",
            f"<sub>{method_note(comp)} Stale: made on top of an older baseline commit.</sub>",
        ]
        if self.all_warnings:
            lines += ["", "<details><summary>Warnings</summary>", ""]
            lines += [f"- {_md_escape(w)}" for w in self.all_warnings]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    # Terminal -----------------------------------------------------------------------------

    def render(self, console: Console) -> None:
        """Print to a rich console. Untrusted text goes in as Text, never as markup."""
        from rich.text import Text

        comp = self.comparison
        print_header(console, comp, self.all_warnings)
        base = comp.baseline
        standings = self.standings()
        if not standings:
            console.print("no experiment branches have runs yet")
            return
        primary = comp.primary.name if comp.primary else "primary"
        headers = ["#", "branch", "commit", "n", "verdict", f"{primary} *", "Δ", "g", "p"]
        headers.append("Holm p")
        secondary = [m for m in comp.metrics if not m.primary]
        for spec in secondary:
            headers += [spec.name, "Δ"]
        headers.append("flags")
        table = _table(*headers, numbers_from=5)
        for s in standings:
            p = s.primary
            verdict = s.result.primary_verdict
            cells: list[Text | str] = [
                "" if s.rank is None else str(s.rank),
                Text(s.result.branch, style="bold" if s.winner else ""),
                _short(s.result.commit),
                str(p.evidence.n_candidate) if p else "0",
                Text(verdict, style=_STYLES[verdict]),
                *_cells(s),
            ]
            cells.append(Text(", ".join(s.flags), style="bold green" if s.winner else "dim"))
            table.add_row(*cells)
        if base is not None and comp.branches:
            cells = [Text(""), Text(f"{comp.baseline_branch} (baseline)", style="dim")]
            cells += [_short(base.commit), str(len(base.runs)), ""]
            primary_metric = comp.branches[0].primary
            cells += [fmt_sample(primary_metric.baseline) if primary_metric else "—"]
            cells += ["", "", "", ""]
            for m in comp.branches[0].metrics:
                if not m.spec.primary:
                    cells += [fmt_sample(m.baseline), ""]
            cells.append("")
            table.add_row(*cells)
        console.print(table)
        winner = comp.winner
        if winner:
            console.print(Text(f"🏆 winner: {headline(comp, winner)}", style="bold green"))
        else:
            console.print(Text(no_winner(comp)))
        console.print(Text(method_note(comp), style="dim"))
