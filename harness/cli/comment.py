"""harness comment: post the run-ended reports to the branches' pull requests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..bounded import parse_json
from ..delivery import (
    Deliverer,
    GithubTarget,
    comparison_reports,
    deliver,
    local_launch_summary,
    queued_report,
    read_reports,
    step_summary,
)
from ..errors import HarnessError, UsageError
from ..pipelines import mark_runs_reported
from ..stores import open_store
from .common import echo_json, format_option, get_settings, reports_errors, settings_options


class NotDelivered(HarnessError):
    """Some reports could not be posted (exit 1); their runs stay unreported."""


@click.command("comment")
@click.argument(
    "reports_dir", required=False, type=click.Path(file_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--summary",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GITHUB_STEP_SUMMARY",
    help="Job summary file to append to (default: GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--outputs",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="GITHUB_OUTPUT",
    help="Step outputs file to append to (default: GITHUB_OUTPUT).",
)
@click.option(
    "--launched",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Post the 'queued' state from this `launch-job --format json` output instead.",
)
@click.option(
    "--compare",
    "compare_md",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Post this `check-results compare --format md` table on each --branches' PR instead.",
)
@click.option("--branches", help="With --compare: the comma-separated branches to post to.")
@format_option("table", "json", help="table: for terminals; json: for tools.")
@settings_options
@reports_errors
def comment_cmd(
    reports_dir: Path | None,
    summary: Path | None,
    outputs: Path | None,
    launched: Path | None,
    compare_md: Path | None,
    branches: str | None,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Post each report of REPORTS_DIR (default: HARNESS_HOME/analysis) to its branch's PR.

    One comment per branch, updated in place; with --launched, the branch's "queued"
    state goes into that same comment (the run report replaces it later). GitHub comes
    from GITHUB_API_URL, GITHUB_REPOSITORY and GITHUB_TOKEN. Runs are marked reported
    once their report was delivered (or their branch has no PR: the job summary then
    carries the report).
    """
    settings = get_settings(backend, home)
    if sum(x is not None for x in (reports_dir, launched, compare_md)) > 1:
        raise UsageError("give one of REPORTS_DIR, --launched and --compare")
    if (branches is None) != (compare_md is None):
        raise UsageError("--compare and --branches go together")
    if compare_md is not None and branches is not None:
        names = [b.strip() for b in branches.split(",") if b.strip()]
        reports = comparison_reports(compare_md.read_text(encoding="utf-8"), names)
    elif launched is not None:
        try:
            data = parse_json(launched.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{launched}: not JSON ({exc})") from exc
        status = queued_report(data, str(launched))
        if status is None:
            if summary is not None:
                with open(summary, "a", encoding="utf-8") as handle:
                    handle.write(local_launch_summary(data) + "\n")
            click.echo("launched locally: nothing waits in a queue, nothing to post")
            return
        reports = [status]
    else:
        reports = read_reports(reports_dir or settings.home / "analysis")
    target = GithubTarget.from_env(os.environ)
    store = open_store(settings)
    deliverer = Deliverer(
        target,
        base_branch=settings.baseline_branch,
        open_draft_pr=settings.github.open_draft_pr,
        comment_author=settings.github.comment_author,
        write_interval_s=settings.github.write_interval_s,
        retry_wait_s=settings.github.retry_wait_s,
    )
    try:
        deliveries = deliver(reports, deliverer)
    finally:
        deliverer.close()
    if summary is not None:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(step_summary(deliveries, reports) + "\n")
    delivered = [d for d in deliveries if d.delivered]
    mark_runs_reported(store, [run for d in delivered for run in d.runs])
    if outputs is not None:
        urls = [d.comment_url for d in deliveries if d.comment_url]
        with open(outputs, "a", encoding="utf-8") as handle:
            handle.write(f"comment-urls={json.dumps(urls)}\n")
            handle.write(f"delivered={len(delivered)}\nfailed={len(deliveries) - len(delivered)}\n")
    if fmt == "json":
        echo_json({"schema_version": 1, "deliveries": [d.as_dict() for d in deliveries]})
    else:
        for d in deliveries:
            where = f" on #{d.pr} {d.comment_url}" if d.pr else ""
            detail = f": {d.error}" if d.error else ""
            click.echo(f"{d.branch}: {d.action.replace('_', ' ')}{where}{detail}")
        if not deliveries:
            click.echo("nothing to post: the reports folder is empty")
    failed = [d.branch for d in deliveries if not d.delivered]
    if failed:
        raise NotDelivered(f"{len(failed)} report(s) not delivered: {', '.join(failed)}")
