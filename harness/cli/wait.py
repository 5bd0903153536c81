"""check-results wait: block until every run launched for a branch's commit has ended, then
print what `summary` prints, with an exit code that says the verdict."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import parse_duration
from ..errors import UsageError
from ..git import Git, validate_branch
from ..pipelines import branch_report
from ..stores import open_store
from ..waiting import LocalProgress, Progress, WaitTimeout, wait_until_ended
from .common import (
    console,
    echo_json,
    format_option,
    get_settings,
    reports_errors,
    settings_options,
)

__all__ = ["EXIT_CODES", "wait_cmd"]

# The verdict of the branch's primary metric, as wait's exit code (docs/json-output.md).
EXIT_CODES = {
    "better": 0,
    "worse": 10,
    "inconclusive": 11,
    "missing": 12,
    "failed": 13,
    "not_comparable": 14,
    "baseline": 15,
}
TIMED_OUT = 124
INTERRUPTED = 130


def _say(line: str) -> None:
    click.echo(f"check-results wait: {line}", err=True)


@click.command("wait")
@click.option("--branch", "-b", required=True, help="The branch whose runs to wait for.")
@click.option(
    "--commit",
    help="Its commit (default: the branch's head commit in this checkout's git).",
)
@click.option(
    "--timeout",
    "timeout",
    default="2h",
    show_default=True,
    help="How long to wait at most (e.g. 90s, 30m, 2h); then exit 124.",
)
@format_option()
@settings_options
@reports_errors
def wait_cmd(
    branch: str,
    commit: str | None,
    timeout: str,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Wait until every run launched for BRANCH at COMMIT has ended, then print its summary.

    Runs that have not appeared yet (a push and a wait at once) are waited for until the
    timeout. Progress goes to stderr; stdout is what `summary` prints (the same JSON).

    \b
    Exit codes: 0 better, 10 worse, 11 inconclusive, 12 missing, 13 failed,
    14 not comparable, 15 BRANCH is the baseline branch, 124 timed out,
    130 interrupted (Ctrl-C); 2 bad input.
    """
    validate_branch(branch)
    timeout_s = parse_duration(timeout, "--timeout")
    settings = get_settings(backend, home)
    if settings.backend != "local":
        raise UsageError("check-results wait: only the local backend is supported so far")
    sha = _commit(settings.root, branch, commit)
    progress = LocalProgress(settings.home, branch, sha)

    def changed(now: Progress) -> None:
        _say(f"{branch} @ {sha[:7]}: {now.describe() if now.runs else 'no run yet'}")

    try:
        wait_until_ended(progress, timeout_s=timeout_s, poll_s=lambda _: 0.2, on_change=changed)
    except WaitTimeout as exc:
        seen = exc.progress.describe() if exc.progress and exc.progress.runs else "no run yet"
        _say(f"timed out after {timeout} waiting for {branch} @ {sha[:7]} ({seen})")
        sys.exit(TIMED_OUT)
    except KeyboardInterrupt:
        _say(f"interrupted while waiting for {branch} @ {sha[:7]}")
        sys.exit(INTERRUPTED)
    report = branch_report(settings, open_store(settings), branch, commit=sha)
    if fmt == "json":
        echo_json(report.to_json())
    elif fmt == "md":
        click.echo(report.to_markdown(), nl=False)
    else:
        report.render(console())
    verdict = report.verdict() or "missing"
    sys.exit(EXIT_CODES.get(verdict, EXIT_CODES["missing"]))


def _commit(root: Path, branch: str, commit: str | None) -> str:
    git = Git(root)
    if commit is None:
        return git.resolve_branch(branch)
    if not commit or len(commit) > 64 or any(c not in "0123456789abcdef" for c in commit):
        raise UsageError(f"--commit: not a commit SHA: {commit[:80]!r}")
    full = git.run("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", check=False)
    return full or commit
