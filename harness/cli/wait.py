"""check-results wait: block until every run launched for a branch's commit has ended, then
print what `summary` prints, with an exit code that says the verdict."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from ..config import parse_duration, parse_wait
from ..errors import UsageError
from ..git import Git, validate_branch
from ..pipelines import branch_report
from ..stores import open_store
from ..waiting import (
    LocalProgress,
    Progress,
    WaitTimeout,
    WandbProgress,
    backoff,
    wait_until_ended,
)
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
LOCAL_POLL_S = 0.2  # a local poll reads a few small files: cheap
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
@click.option(
    "--interval",
    default="30s",
    show_default=True,
    help="W&B: the longest pause between polls (they start at 1s and back off, with jitter).",
)
@format_option()
@settings_options
@reports_errors
def wait_cmd(
    branch: str,
    commit: str | None,
    timeout: str,
    interval: str,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Wait until every run launched for BRANCH at COMMIT has ended, then print its summary.

    Runs that have not appeared yet (a push and a wait at once) are waited for until the
    timeout. Progress goes to stderr; stdout is what `summary` prints (the same JSON).
    On W&B, items of the commit still in the Launch queue (launch.queue) count as runs to
    come, and one its agent failed to start as a failed run.

    \b
    Exit codes: 0 better, 10 worse, 11 inconclusive, 12 missing, 13 failed,
    14 not comparable, 15 BRANCH is the baseline branch, 124 timed out,
    130 interrupted (Ctrl-C); 2 bad input.
    """
    validate_branch(branch)
    timeout_s = parse_duration(timeout, "--timeout")
    longest_s = parse_wait(interval, "--interval")
    settings = get_settings(backend, home)
    sha = _commit(settings.root, branch, commit)
    progress: Callable[[], Progress]
    if settings.backend == "local":
        progress, pause = LocalProgress(settings.home, branch, sha), lambda _: LOCAL_POLL_S
    else:
        progress, pause = WandbProgress(settings, branch, sha), backoff(max(longest_s, 0.1))

    def changed(now: Progress) -> None:
        _say(f"{branch} @ {sha[:7]}: {now.describe()}")

    try:
        wait_until_ended(progress, timeout_s=timeout_s, poll_s=pause, on_change=changed)
    except WaitTimeout as exc:
        seen = exc.progress.describe() if exc.progress else "no run yet"
        _say(f"timed out after {timeout} waiting for {branch} @ {sha[:7]} ({seen})")
        sys.exit(TIMED_OUT)
    except KeyboardInterrupt:
        _say(f"interrupted while waiting for {branch} @ {sha[:7]}")
        sys.exit(INTERRUPTED)
    unstarted = progress.unstarted if isinstance(progress, WandbProgress) else ()
    report = branch_report(settings, open_store(settings), branch, commit=sha, also=unstarted)
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
