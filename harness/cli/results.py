"""check-results: how branches' runs compare with the baseline, from the run store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from ..compare import BranchResult
from ..config import CompareSettings, Settings
from ..inert import clean_line
from ..leaderboard import Leaderboard
from ..pipelines import branch_report, compare_report, leaderboard_report, plot_branches
from ..render import terminal
from ..render.document import Block, Column, Document, Paragraph, Span, Table, Warnings
from ..render.phrases import STATE_TAGS
from ..render.serialize import SCHEMA_VERSION, run_json
from ..report import Report
from ..runs import RunState
from ..stores import open_store
from .common import (
    console,
    echo_json,
    format_option,
    get_settings,
    reports_errors,
    settings_options,
)

_STATES = [s.value for s in RunState]
FAIL_ON = ("worse", "inconclusive", "failed", "missing")
F = TypeVar("F", bound=Callable[..., Any])


def _emit(report: Report | Leaderboard, fmt: str) -> None:
    if fmt == "json":
        echo_json(report.to_json())
    elif fmt == "md":
        click.echo(report.to_markdown(), nl=False)
    else:
        report.render(console())


def _parse_fail_on(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> frozenset[str]:
    chosen = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(chosen - set(FAIL_ON))
    if unknown:
        raise click.BadParameter(
            f"{unknown[0]!r} is not a verdict to fail on (choose from {', '.join(FAIL_ON)})"
        )
    return frozenset(chosen)


def judging_options(func: F) -> F:
    """``--fail-on`` and ``--confidence``: what compare, summary and leaderboard share."""
    func = click.option(
        "--confidence",
        type=click.FloatRange(0.5, 1.0, max_open=True),
        help="Confidence level of the t-test and of Holm's correction"
        " (default: compare.confidence in harness.yaml, HARNESS_CONFIDENCE, else 0.95).",
    )(func)
    func = click.option(
        "--fail-on",
        "fail_on",
        multiple=True,
        callback=_parse_fail_on,
        metavar="VERDICTS",
        help="Exit 1 when any compared branch's primary verdict is one of these"
        f" ({', '.join(FAIL_ON)}); repeatable or comma-separated.",
    )(func)
    return func


def _settings(backend: str | None, home: Path | None, confidence: float | None) -> Settings:
    settings = get_settings(backend, home)
    if confidence is not None:
        settings = replace(settings, compare=CompareSettings(confidence=confidence))
    return settings


def _check_fail_on(branches: Sequence[BranchResult], fail_on: frozenset[str]) -> bool:
    """Say on stderr which branches' primary verdict is in ``fail_on``; True if any."""
    hits = [b for b in branches if b.primary_verdict in fail_on]
    prog = click.get_current_context().find_root().info_name or "check-results"
    for b in hits:
        click.echo(
            f"{prog}: {b.branch}: primary verdict is {b.primary_verdict} (--fail-on)", err=True
        )
    return bool(hits)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise click.BadParameter("expected a comma-separated list of branch names")
    return names


@click.group("check-results")
def results() -> None:
    """Compare experiment branches with the baseline branch (default: main).

    Each branch is judged on its runs at its newest commit; the baseline is the finished
    runs of the baseline branch at its newest commit that has finished runs. Metrics and
    their goals come from harness.yaml.

    \b
    Exit codes: 0 success; 1 what was asked about failed; 2 bad input or configuration.
    """


@results.command()
@click.option("--branch", "-b", required=True, help="The branch to summarise.")
@click.option("--baseline", help="Baseline branch (default: baseline_branch in harness.yaml).")
@click.option("--metric", help="Declared metric to show first.")
@judging_options
@format_option()
@settings_options
@reports_errors
def summary(
    branch: str,
    baseline: str | None,
    metric: str | None,
    fail_on: frozenset[str],
    confidence: float | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """One branch against the baseline: every metric (mean ± std over seeds, verdict and
    its evidence), its runs and their states.

    Exits 1 when every run at the branch's newest commit failed or crashed, or when its
    primary verdict is one that --fail-on names.
    """
    settings = _settings(backend, home, confidence)
    report = branch_report(settings, open_store(settings), branch, baseline=baseline, metric=metric)
    _emit(report, fmt)
    focus = report.focus
    failed = _check_fail_on(report.comparison.branches, fail_on)
    if (
        focus
        and focus.runs
        and all(r.state in (RunState.FAILED, RunState.CRASHED) for r in focus.runs)
    ) or failed:
        raise SystemExit(1)


@results.command("compare")
@click.option("--branches", help="Comma-separated branches (default: every branch with runs).")
@click.option("--baseline", help="Baseline branch (default: baseline_branch in harness.yaml).")
@click.option("--metric", help="Declared metric to show first.")
@judging_options
@format_option()
@settings_options
@reports_errors
def compare_cmd(
    branches: str | None,
    baseline: str | None,
    metric: str | None,
    fail_on: frozenset[str],
    confidence: float | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Every experiment branch against the baseline, and the winner.

    Each side is the mean ± std over its seeds (finished runs at its newest commit).
    With 2+ seeds per side a metric is judged by Welch's t-test; a single seed against
    2+ on the other side, by a t-test against their spread; one seed each, by min_delta.
    A change must also exceed min_delta. The winner is the branch whose primary metric
    improves most among those still better after Holm's correction across the branches;
    several seeds outrank a single one. Failed and crashed runs are shown as such.
    Exits 1 when a branch's primary verdict is one that --fail-on names.
    """
    settings = _settings(backend, home, confidence)
    report = compare_report(
        settings,
        open_store(settings),
        branches=_split(branches),
        baseline=baseline,
        metric=metric,
    )
    _emit(report, fmt)
    if _check_fail_on(report.comparison.branches, fail_on):
        raise SystemExit(1)


@results.command("leaderboard")
@click.option("--branches", help="Comma-separated branches (default: every branch with runs).")
@click.option("--baseline", help="Baseline branch (default: baseline_branch in harness.yaml).")
@click.option("--metric", help="Declared metric to show first (ranking uses the primary).")
@judging_options
@format_option()
@settings_options
@reports_errors
def leaderboard_cmd(
    branches: str | None,
    baseline: str | None,
    metric: str | None,
    fail_on: frozenset[str],
    confidence: float | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Every branch ranked by its primary metric's improvement on the baseline.

    Shows each branch's delta, effect size (Hedges' g), p-value and Holm-adjusted p,
    verdict, seeds and secondary metrics. The winner is the best branch still better
    after Holm's correction (a single-seed branch wins only when no multi-seed one
    does). A branch is flagged stale when its commit does not contain the baseline's
    commit (checked in this checkout's git when it has both commits).
    Exits 1 when a branch's primary verdict is one that --fail-on names.
    """
    settings = _settings(backend, home, confidence)
    board = leaderboard_report(
        settings,
        open_store(settings),
        branches=_split(branches),
        baseline=baseline,
        metric=metric,
        repo=settings.root,
    )
    _emit(board, fmt)
    if _check_fail_on(board.comparison.branches, fail_on):
        raise SystemExit(1)


@results.command("plot")
@click.option("--metric", help="Declared metric to draw (default: the primary metric).")
@click.option("--branches", help="Comma-separated branches (default: every branch with runs).")
@click.option("--baseline", help="Baseline branch (default: baseline_branch in harness.yaml).")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PNG file to write.",
)
@settings_options
@reports_errors
def plot_cmd(
    metric: str | None,
    branches: str | None,
    baseline: str | None,
    out: Path,
    backend: str | None,
    home: Path | None,
) -> None:
    """Draw a metric over training steps for branches against the baseline (PNG).

    Each branch's runs at its newest commit (the baseline's at its commit) are resampled
    onto one step grid and drawn as the mean over seeds with a ±1 std band. Named
    branches must have logged the metric's curve (else exit 1); unnamed ones without a
    curve are skipped with a warning. Needs matplotlib (the `plot` extra).
    """
    settings = get_settings(backend, home)
    drawn = plot_branches(
        settings,
        open_store(settings),
        out,
        metric=metric,
        branches=_split(branches),
        baseline=baseline,
    )
    # branch names are untrusted: never read as markup
    terminal.render(Document((Warnings(drawn.warnings),)), console(stderr=True))
    runs = sum(len(side.curves) for side in drawn.sides)
    click.echo(f"wrote {out} ({drawn.metric}: {len(drawn.sides)} line(s) from {runs} run(s))")


@results.command("runs")
@click.option("--branch", "-b", help="Only this branch's runs.")
@click.option(
    "--state",
    type=click.Choice(_STATES),
    multiple=True,
    help="Only runs in this state (repeatable).",
)
@format_option("table", "json", help="table: for terminals; json: for tools.")
@settings_options
@reports_errors
def runs_cmd(
    branch: str | None, state: tuple[str, ...], fmt: str, backend: str | None, home: Path | None
) -> None:
    """List runs in the store, newest first."""
    from ..git import validate_branch

    if branch:
        validate_branch(branch)
    settings = get_settings(backend, home)
    store = open_store(settings)
    found = store.runs(branch=branch, states=[RunState(s) for s in state] if state else None)
    metrics = list(settings.metrics)
    if fmt == "json":
        echo_json(
            {
                "schema_version": SCHEMA_VERSION,
                "runs": [run_json(r, metrics) for r in found],
                "warnings": store.warnings,
            }
        )
        return
    rows = tuple(
        (
            (Span(r.id, "code"),),
            (Span(r.branch or "?", "code"),),
            (Span(r.short_commit, "code"),),
            (Span("" if r.seed is None else str(r.seed)),),
            (Span(r.state.value, STATE_TAGS.get(r.state.value, "")),),
            (Span("" if r.exit_code is None else str(r.exit_code)),),
            (Span(r.created_at or ""),),
            (Span(r.reason or ""),),
        )
        for r in found
    )
    names = ("run", "branch", "commit", "seed", "state", "exit", "created", "note")
    terminal.render(Document((Warnings(tuple(store.warnings)),)), console(stderr=True))
    blocks: list[Block] = []
    if found:
        blocks.append(Table(tuple(Column(n) for n in names), rows))
    else:
        blocks.append(Paragraph((Span(f"no runs in {settings.home}"),)))
    terminal.render(Document(tuple(blocks)), console())


@results.command("log")
@click.argument("run_id")
@click.option("--lines", "-n", default=50, show_default=True, type=click.IntRange(1, 100_000))
@settings_options
@reports_errors
def log_cmd(run_id: str, lines: int, backend: str | None, home: Path | None) -> None:
    """Print the last lines of a run's console log (control characters and escape
    sequences shown as spaces)."""
    settings = get_settings(backend, home)
    for line in open_store(settings).log_tail(run_id, lines):
        click.echo(clean_line(line))  # a log's escape sequences never reach the terminal
