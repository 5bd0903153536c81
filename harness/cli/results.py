"""check-results: how branches' runs compare with the baseline, from the run store."""

from __future__ import annotations

from pathlib import Path

import click

from ..pipelines import branch_report, compare_report
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


def _emit(report: Report, fmt: str) -> None:
    if fmt == "json":
        echo_json(report.to_json())
    elif fmt == "md":
        click.echo(report.to_markdown(), nl=False)
    else:
        report.render(console())


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
@format_option()
@settings_options
@reports_errors
def summary(
    branch: str,
    baseline: str | None,
    metric: str | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """One branch against the baseline: every metric, its runs and their states.

    Exits 1 when every run at the branch's newest commit failed or crashed.
    """
    settings = get_settings(backend, home)
    report = branch_report(settings, open_store(settings), branch, baseline=baseline, metric=metric)
    _emit(report, fmt)
    focus = report.focus
    if (
        focus
        and focus.runs
        and all(r.state in (RunState.FAILED, RunState.CRASHED) for r in focus.runs)
    ):
        raise SystemExit(1)


@results.command("compare")
@click.option("--branches", help="Comma-separated branches (default: every branch with runs).")
@click.option("--baseline", help="Baseline branch (default: baseline_branch in harness.yaml).")
@click.option("--metric", help="Declared metric to show first.")
@format_option()
@settings_options
@reports_errors
def compare_cmd(
    branches: str | None,
    baseline: str | None,
    metric: str | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Every experiment branch against the baseline, and the winner.

    The winner is the branch whose primary metric improves most among those judged
    better. Failed and crashed runs are shown as such.
    """
    settings = get_settings(backend, home)
    report = compare_report(
        settings,
        open_store(settings),
        branches=_split(branches),
        baseline=baseline,
        metric=metric,
    )
    _emit(report, fmt)


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
    if fmt == "json":
        echo_json(
            {
                "schema_version": 1,
                "runs": [
                    {
                        "id": r.id,
                        "branch": r.branch,
                        "commit": r.commit,
                        "seed": r.seed,
                        "state": r.state.value,
                        "exit_code": r.exit_code,
                        "reason": r.reason,
                        "created_at": r.created_at,
                    }
                    for r in found
                ],
                "warnings": store.warnings,
            }
        )
        return
    from rich.table import Table

    out = console()
    for warning in store.warnings:
        console(stderr=True).print(f"[yellow]warning:[/] {warning}", highlight=False)
    if not found:
        out.print(f"no runs in {settings.home}", highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("run", "branch", "commit", "seed", "state", "exit", "created", "note"):
        table.add_column(col)
    for r in found:
        table.add_row(
            r.id,
            r.branch or "?",
            r.short_commit,
            "" if r.seed is None else str(r.seed),
            r.state.value,
            "" if r.exit_code is None else str(r.exit_code),
            r.created_at or "",
            r.reason or "",
        )
    out.print(table)


@results.command("log")
@click.argument("run_id")
@click.option("--lines", "-n", default=50, show_default=True, type=click.IntRange(1, 100_000))
@settings_options
@reports_errors
def log_cmd(run_id: str, lines: int, backend: str | None, home: Path | None) -> None:
    """Print the last lines of a run's console log."""
    settings = get_settings(backend, home)
    for line in open_store(settings).log_tail(run_id, lines):
        click.echo(line)
