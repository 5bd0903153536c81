"""launch-job: run a branch's committed code as tracked runs (local backend today)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import parse_duration
from ..errors import ConfigError, UsageError
from ..git import Git
from ..pipelines import launch_branch
from ..runs import RunState
from .common import (
    console,
    echo_json,
    format_option,
    get_settings,
    reports_errors,
    settings_options,
)


def _timeout(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, "--timeout")
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


@click.command("launch-job")
@click.option("--branch", "-b", required=True, help="Branch whose newest commit is run.")
@click.option("--seeds", type=click.IntRange(1, 100), help="Runs (seeds 0..N-1) in one group.")
@click.option("--timeout", help="Per-run limit: 90s, 30m, 2h or minutes (default: harness.yaml).")
@format_option(
    "table", "json", help="json: print the runs as JSON on stdout; progress goes to stderr."
)
@settings_options
@reports_errors
def launch(
    branch: str,
    seeds: int | None,
    timeout: str | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Run BRANCH's committed code (never the working tree) as tracked runs.

    With the local backend each run gets a git worktree under HARNESS_HOME/worktrees, the
    branch's own harness.yaml and entry point, and W&B in offline mode; output streams here
    and to the run's output.log. Afterwards the branch's report is written to
    HARNESS_HOME/reports/<branch>.md. Exits 1 when a run did not finish.
    """
    settings = get_settings(backend, home)
    repo = Git(Path.cwd()).main_root()
    if repo is None:
        raise UsageError(f"{Path.cwd()} is not inside a git repository")
    stream = sys.stderr if fmt == "json" else sys.stdout

    def show(line: str) -> None:
        click.echo(line, file=stream)

    try:
        runs, report, path = launch_branch(
            settings, branch, repo=repo, seeds=seeds, timeout_s=_timeout(timeout), output=show
        )
    except KeyboardInterrupt:
        click.echo("launch-job: interrupted; the run is recorded as crashed", err=True)
        raise SystemExit(130) from None
    failed = [r for r in runs if r.state is not RunState.FINISHED]
    if fmt == "json":
        echo_json(
            {
                "schema_version": 1,
                "branch": branch,
                "runs": [
                    {
                        "id": r.run_id,
                        "commit": r.commit,
                        "seed": r.seed,
                        "state": r.state.value,
                        "exit_code": r.exit_code,
                        "reason": r.reason,
                        "duration_s": round(r.duration_s, 3),
                        "run_dir": str(r.run_dir),
                    }
                    for r in runs
                ],
                "report": str(path) if path else None,
                "verdict": report.verdict() if report else None,
            }
        )
    else:
        out = console()
        if report is not None:
            out.print()
            report.render(out)
            out.print(f"report: {path}", highlight=False)
    if failed:
        raise SystemExit(1)
