"""Reports: one Comparison rendered as Markdown (PRs, job summaries), rich text, and JSON.

The JSON is a contract (docs/json-output.md); bump SCHEMA_VERSION when a field changes
meaning or goes away. Markdown carries a hidden marker so the same PR comment can be
updated in place; the branch in it is percent-encoded (a valid ref may contain ``-->``).
Core: never imports wandb, torch, anthropic or github.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from .compare import BranchResult, Comparison, MetricComparison, Sample, Verdict
from .inert import one_line
from .runs import MetricSpec, Run

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["SCHEMA_VERSION", "Report", "marker"]

SCHEMA_VERSION = 1
ReportKind = Literal["compare", "summary"]

_ICONS: dict[str, str] = {
    "better": "✅",
    "worse": "🔻",
    "inconclusive": "⚪",
    "missing": "❔",
    "failed": "💥",
}
_STYLES: dict[str, str] = {
    "better": "bold green",
    "worse": "bold red",
    "inconclusive": "yellow",
    "missing": "dim",
    "failed": "bold red",
}
_STATE_STYLES = {"finished": "green", "failed": "red", "crashed": "red", "running": "cyan"}


def marker(kind: ReportKind, branch: str | None = None) -> str:
    """The hidden HTML comment that identifies a report in a PR comment."""
    what = "report" if kind == "summary" else "compare"
    suffix = f" branch={quote(branch, safe='')}" if branch is not None else ""
    return f"<!-- harness:{what}{suffix} -->"


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


def _goal(metric: MetricComparison) -> str:
    return "↑" if metric.spec.goal == "maximize" else "↓"


def headline(comparison: Comparison, result: BranchResult) -> str:
    """One sentence: how the branch did on the primary metric."""
    base = comparison.baseline_branch
    primary = result.primary
    if result.runs and all(r.state.value in ("failed", "crashed") for r in result.runs):
        return f"{result.branch}: every run at {_short(result.commit)} failed or crashed"
    if primary is None:
        return f"{result.branch}: no primary metric is declared in harness.yaml"
    if result.branch == base:
        return f"{base} is the baseline: {primary.spec.name} {fmt_sample(primary.candidate)}"
    name = primary.spec.name
    if comparison.baseline is None:
        return f"{result.branch}: no finished run on the baseline branch {base} to compare with"
    if primary.candidate is None and primary.evidence.nonfinite_candidate:
        return (
            f"{result.branch}: {name} is NaN or infinite in every finished run"
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


_IGNORED_SEEDS = (
    "Every seed gave exactly the same values: the script ignores its seed, so its runs count"
    " as one (see the warnings)."
)


def _short(commit: str | None) -> str:
    return commit[:7] if commit else "?"


def _run_json(run: Run, metrics: Sequence[MetricSpec], *, config: bool) -> dict[str, Any]:
    """A run in the JSON output; its config only where one branch is shown (summary)."""
    shown: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "url": run.url,
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


def _sample_json(sample: Sample | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    return {"mean": sample.mean, "std": sample.std, "n": sample.n}


def _metric_json(metric: MetricComparison) -> dict[str, Any]:
    ev = metric.evidence
    return {
        "name": metric.spec.name,
        "goal": metric.spec.goal,
        "primary": metric.spec.primary,
        "baseline": _sample_json(metric.baseline),
        "value": _sample_json(metric.candidate),
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


@dataclass(frozen=True)
class Report:
    """A comparison to show: ``summary`` focuses on one branch, ``compare`` on many."""

    kind: ReportKind
    comparison: Comparison
    warnings: Sequence[str] = ()

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

    # JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        comp = self.comparison
        baseline = comp.baseline
        winner = comp.winner
        detailed = self.kind == "summary"
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "baseline_branch": comp.baseline_branch,
            "primary_metric": comp.primary.name if comp.primary else None,
            "confidence": comp.confidence,
            "metrics": [spec.as_dict() for spec in comp.metrics],
            "baseline": None
            if baseline is None
            else {
                "branch": baseline.branch,
                "commit": baseline.commit,
                "n": len(baseline.runs),
                "seeds_ignored": baseline.seeds_ignored,
                "runs": [_run_json(r, comp.metrics, config=detailed) for r in baseline.runs],
            },
            "branches": [
                {
                    "branch": b.branch,
                    "commit": b.commit,
                    "headline": headline(comp, b),
                    "states": b.states,
                    "primary_verdict": b.primary_verdict,
                    "primary_holm_verdict": b.primary_holm_verdict,
                    "seeds_ignored": b.seeds_ignored,
                    "runs": [_run_json(r, comp.metrics, config=detailed) for r in b.runs],
                    "metrics": [_metric_json(m) for m in b.metrics],
                }
                for b in comp.branches
            ],
            "winner": winner.branch if winner else None,
            "warnings": self.all_warnings,
        }

    # Markdown -----------------------------------------------------------------------------

    def to_markdown(self) -> str:
        focus = self.focus
        lines = [marker(self.kind, focus.branch if focus else None)]
        lines += self._md_summary(focus) if focus else self._md_compare()
        if self.comparison.branches:
            lines += ["", f"<sub>{method_note(self.comparison)}</sub>"]
        if self.all_warnings:
            lines += ["", "<details><summary>Warnings</summary>", ""]
            lines += [f"- {_md_escape(w)}" for w in self.all_warnings]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def _md_baseline(self) -> str:
        comp = self.comparison
        if comp.baseline is None:
            return f"Baseline: no finished run on `{comp.baseline_branch}` yet."
        base = comp.baseline
        return f"Baseline: `{base.branch}` @ `{_short(base.commit)}` ({len(base.runs)} run(s))."

    def _md_summary(self, result: BranchResult) -> list[str]:
        comp = self.comparison
        icon = _ICONS[result.primary_verdict]
        lines = [f"### {icon} {_md_escape(headline(comp, result))}", "", self._md_baseline(), ""]
        if result.seeds_ignored:
            lines += [f"⚠️ {_IGNORED_SEEDS}", ""]
        base_name = _md_cell(comp.baseline_branch)
        lines += [
            f"| metric | goal | {base_name} | {_md_cell(result.branch)} | Δ | verdict | evidence |",
            "|---|:-:|--:|--:|--:|---|---|",
        ]
        for m in result.metrics:
            name = f"**{_md_cell(m.spec.name)}**" if m.spec.primary else _md_cell(m.spec.name)
            lines.append(
                f"| {name} | {_goal(m)} | {fmt_sample(m.baseline)} | {fmt_sample(m.candidate)}"
                f" | {fmt_delta(m)} | {_ICONS[m.verdict]} {m.verdict} | {fmt_evidence(m)} |"
            )
        lines += ["", f"Runs at `{_short(result.commit)}`:", ""]
        lines += ["| run | seed | state | exit code | note |", "|---|--:|---|--:|---|"]
        for run in result.runs:
            ident = f"[{run.id}]({run.url})" if run.url else f"`{run.id}`"
            lines.append(
                f"| {ident} | {'' if run.seed is None else run.seed} | {run.state.value}"
                f" | {'' if run.exit_code is None else run.exit_code}"
                f" | {_md_cell(run.reason or '')} |"
            )
        return lines

    def _md_compare(self) -> list[str]:
        comp = self.comparison
        winner = comp.winner
        title = (
            f"### 🏆 Winner: {_md_escape(headline(comp, winner))}"
            if winner
            else f"### {_md_escape(_capital(no_winner(comp)))}"
        )
        lines = [title, "", self._md_baseline(), ""]
        if not comp.branches:
            return [*lines, "No experiment branches have runs yet."]
        head = ["branch", "commit", "runs", "verdict"]
        for spec in comp.metrics:
            head += [_md_cell(spec.name) + (" (primary)" if spec.primary else ""), "Δ"]
        head.append("evidence")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for b in comp.branches:
            row = [
                f"`{_md_cell(b.branch)}`",
                f"`{_short(b.commit)}`",
                fmt_states(b.states),
                f"{_ICONS[b.primary_verdict]} {b.primary_verdict}",
            ]
            for m in b.metrics:
                row += [fmt_sample(m.candidate), fmt_delta(m)]
            row.append(fmt_evidence(b.primary) if b.primary else "—")
            lines.append("| " + " | ".join(row) + " |")
        if comp.baseline:
            row = [f"`{comp.baseline_branch}` (baseline)", f"`{_short(comp.baseline.commit)}`"]
            row += [fmt_states({"finished": len(comp.baseline.runs)}), ""]
            for b_metric in comp.branches[0].metrics:
                row += [fmt_sample(b_metric.baseline), ""]
            row.append("")
            lines.append("| " + " | ".join(row) + " |")
        return lines

    # Terminal -----------------------------------------------------------------------------

    def render(self, console: Console) -> None:
        """Print to a rich console. Untrusted text goes in as Text, never as markup."""
        print_header(console, self.comparison, self.all_warnings)
        if self.focus is not None:
            self._render_summary(console, self.focus)
        else:
            self._render_compare(console)

    def _render_summary(self, console: Console, focus: BranchResult) -> None:
        from rich.text import Text

        comp = self.comparison
        verdict = focus.primary_verdict
        console.print(Text(f"{_ICONS[verdict]} {headline(comp, focus)}", style=_STYLES[verdict]))
        if focus.seeds_ignored:
            console.print(Text(f"⚠ {_IGNORED_SEEDS}", style="yellow"))
        table = _table(
            "metric",
            "goal",
            comp.baseline_branch,
            focus.branch,
            "Δ",
            "verdict",
            "evidence",
            numbers_from=2,
        )
        for m in focus.metrics:
            table.add_row(
                Text(m.spec.name, style="bold" if m.spec.primary else ""),
                _goal(m),
                fmt_sample(m.baseline),
                fmt_sample(m.candidate),
                fmt_delta(m),
                Text(m.verdict, style=_STYLES[m.verdict]),
                fmt_evidence(m),
            )
        console.print(table)
        runs = _table("run", "seed", "state", "exit", "note", numbers_from=99)
        for run in focus.runs:
            runs.add_row(
                Text(run.id),
                "" if run.seed is None else str(run.seed),
                Text(run.state.value, style=_STATE_STYLES.get(run.state.value, "")),
                "" if run.exit_code is None else str(run.exit_code),
                Text(one_line(run.reason or "")),
            )
        console.print(runs)

    def _render_compare(self, console: Console) -> None:
        from rich.text import Text

        comp = self.comparison
        if not comp.branches:
            console.print("no experiment branches have runs yet")
            return
        headers = ["branch", "commit", "runs", "verdict"]
        for spec in comp.metrics:
            headers += [spec.name + (" *" if spec.primary else ""), "Δ"]
        headers.append("evidence")
        table = _table(*headers, numbers_from=4)
        for b in comp.branches:
            cells: list[Text | str] = [
                Text(b.branch),
                _short(b.commit),
                fmt_states(b.states),
                Text(b.primary_verdict, style=_STYLES[b.primary_verdict]),
            ]
            for m in b.metrics:
                cells += [fmt_sample(m.candidate), fmt_delta(m)]
            cells.append(fmt_evidence(b.primary) if b.primary else "—")
            table.add_row(*cells)
        if comp.baseline is not None:
            cells = [Text(f"{comp.baseline_branch} (baseline)", style="dim")]
            cells += [_short(comp.baseline.commit), f"{len(comp.baseline.runs)} finished", ""]
            for m in comp.branches[0].metrics:
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


def print_header(console: Console, comp: Comparison, warnings: Sequence[str]) -> None:
    """The warnings, then the baseline line, above every terminal table."""
    from rich.text import Text

    for warning in warnings:
        console.print(Text.assemble(("warning: ", "yellow"), one_line(warning)))
    base = comp.baseline
    where = f" @ {_short(base.commit)} ({len(base.runs)} run(s))" if base else ""
    console.print(
        Text.assemble("baseline ", (comp.baseline_branch, "bold"), where or ": no finished run yet")
    )


def _table(*headers: str, numbers_from: int) -> Table:
    """A borderless table whose columns from ``numbers_from`` on (but verdicts) align right."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for i, header in enumerate(headers):
        right = i >= numbers_from and header not in ("verdict", "evidence", "flags")
        table.add_column(Text(header), justify="right" if right else "left")
    return table


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _md_escape(text).replace("|", "\\|").replace("\n", " ")


def _md_escape(text: str) -> str:
    """Neutralise HTML and @-mentions in untrusted text (branch names, run reasons)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")
    )
