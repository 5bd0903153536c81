"""harness analyze / mark-reported: the run-ended reports, and their delivery bookkeeping."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import click

from ..analysts import open_analyst
from ..errors import UsageError
from ..events import RunEvent, read_event_file, validate_run_id
from ..git import Git, validate_branch
from ..pipelines import analyze, mark_reported
from ..stores import open_store
from .common import echo_json, format_option, get_settings, reports_errors, settings_options


@click.command("analyze")
@click.option(
    "--event-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A repository_dispatch event (default: GITHUB_EVENT_PATH, when set).",
)
@click.option("--run-id", help="Report this run only.")
@click.option("--branch", "-b", help="Report this branch's new runs only.")
@click.option(
    "--all",
    "every",
    is_flag=True,
    envvar="HARNESS_ANALYZE_ALL",
    help=(
        "Report every ended run not reported yet, whatever the event names (a run it names"
        " is reported again). The report workflows set HARNESS_ANALYZE_ALL=true."
    ),
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Reports folder, replaced whole (default: HARNESS_HOME/analysis).",
)
@click.option(
    "--outputs",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GITHUB_OUTPUT",
    help="Step outputs file to append to (default: GITHUB_OUTPUT).",
)
@format_option("table", "json", help="table: for terminals; json: for tools.")
@settings_options
@reports_errors
def analyze_cmd(
    event_file: Path | None,
    run_id: str | None,
    branch: str | None,
    every: bool,
    out: Path | None,
    outputs: Path | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Write a report for each branch with runs that ended and were not reported yet.

    The event (W&B's webhook, delivered as a repository_dispatch) is validated before any
    work. Each report (Markdown + JSON) compares the branch's newest runs with the
    baseline, shows the primary metric's curve, what changed, and why failed runs failed.
    Nothing new to report is a success. Runs are marked reported only by
    `harness mark-reported`, after the reports were delivered.

    The event's run id, branch and state narrow what is reported, and so do --run-id and
    --branch. With --all, the event narrows nothing: the report workflows share one
    concurrency group, where GitHub keeps only the newest waiting run and cancels the
    others, so the run that goes must also report what the cancelled ones named.
    """
    settings = get_settings(backend, home)
    if every and (branch is not None or run_id is not None):
        raise UsageError("--all reports every new run: give it without --branch and --run-id")
    if branch is not None:
        validate_branch(branch)
    if run_id is not None:
        validate_run_id(run_id)
    dispatched = os.environ.get("GITHUB_EVENT_NAME") == "repository_dispatch"
    if event_file is None and dispatched and os.environ.get("GITHUB_EVENT_PATH"):
        event_file = Path(os.environ["GITHUB_EVENT_PATH"])
    event = read_event_file(event_file) if event_file else RunEvent(settings.wandb.entity, None)
    # Flags narrow what the event names.
    event = replace(event, run_id=run_id or event.run_id, branch=branch or event.branch)
    out_dir = (out or settings.home / "analysis").resolve()
    store = open_store(settings)
    analyses = analyze(
        settings,
        store,
        event,
        out_dir=out_dir,
        repo=Git(Path.cwd()).main_root(),
        analyst=open_analyst(settings),
        every=every,
    )
    if outputs is not None:  # a GitHub Actions step's outputs
        verdicts = {a.branch: a.verdict for a in analyses}
        with open(outputs, "a", encoding="utf-8") as handle:
            handle.write(f"reports-dir={out_dir}\ncount={len(analyses)}\n")
            handle.write(f"verdicts={json.dumps(verdicts)}\n")
    if fmt == "json":
        echo_json(
            {
                "schema_version": 1,
                "out": str(out_dir),
                "reports": [
                    {
                        "branch": a.branch,
                        "verdict": a.verdict,
                        "provisional": a.provisional,
                        "runs": [r.id for r in a.reported_runs],
                    }
                    for a in analyses
                ],
            }
        )
        return
    if not analyses:
        click.echo("nothing new to report: every ended run has been reported")
        return
    for a in analyses:
        note = " (provisional: the baseline is still running)" if a.provisional else ""
        click.echo(f"{a.branch}: {a.verdict} ({len(a.reported_runs)} new run(s)){note}")
    click.echo(f"reports in {out_dir} (index.json lists them)")


@click.command("mark-reported")
@click.argument("reports_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@settings_options
@reports_errors
def mark_reported_cmd(reports_dir: Path, backend: str | None, home: Path | None) -> None:
    """Mark the runs in REPORTS_DIR/index.json as reported, once their reports were delivered."""
    settings = get_settings(backend, home)
    marked = mark_reported(open_store(settings), reports_dir)
    click.echo(f"marked {len(marked)} run(s) reported")
