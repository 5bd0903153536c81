"""harness gc: remove what the local store no longer needs."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import parse_duration
from ..errors import UsageError
from ..git import Git
from ..housekeeping import apply_gc, plan_gc
from .common import echo_json, format_option, get_settings, reports_errors, settings_options

__all__ = ["gc_cmd"]


@click.command("gc")
@click.option(
    "--runs-older-than",
    "older_than",
    help="Also remove runs (and launch records) that ended longer ago than this (e.g. 30d).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@format_option("table", "json", help="table: for people; json: for tools.")
@settings_options
@reports_errors
def gc_cmd(
    older_than: str | None, dry_run: bool, fmt: str, backend: str | None, home: Path | None
) -> None:
    """Remove leftover worktrees of launchers that were killed (never a running run's),
    and with --runs-older-than, ended runs and launch records older than that."""
    settings = get_settings(backend, home)
    if settings.backend != "local":
        raise UsageError("harness gc: only the local store has anything to collect")
    if older_than is not None and not older_than.strip()[-1:].isalpha():
        raise UsageError(  # a bare number is minutes elsewhere: too easy to mean days here
            f"--runs-older-than: give a unit, e.g. 30d or 12h (got {older_than[:40]!r})"
        )
    age = parse_duration(older_than, "--runs-older-than") if older_than else None
    plan = plan_gc(settings.home, older_than_s=age)
    if not dry_run:
        apply_gc(plan, settings.home, Git(Path.cwd()).main_root())
    if fmt == "json":
        echo_json(plan.to_json(dry_run=dry_run))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(plan.worktrees)} worktree(s), {len(plan.runs)} run(s), "
        f"{len(plan.launches)} launch record(s) from {settings.home}"
    )
    for path in plan.worktrees:
        click.echo(f"  worktree {path}")
    for run_id in plan.runs:
        click.echo(f"  run      {run_id}")
