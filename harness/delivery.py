"""Deliver the run-ended reports to the branches' pull requests (PyGithub, imported lazily).

One comment per branch, found by its hidden marker (the encoded branch, matched exactly on
the first line) among comments written by a bot or by ``github.comment_author``, then
updated in place (the oldest, when there are several); created only when there is none.
Every attempt finds before it writes, so a retried request or a duplicated event never
makes a second comment. Two deliveries at once can both find none and both create one:
after writing (creating, or editing where duplicates were seen), a delivery lists the PR's
comments again and keeps the oldest of its marker: the younger ones by the same author
are deleted, so concurrent deliveries end with one comment. 5xx, 429 and network errors
are retried with backoff, honouring ``Retry-After``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from .bounded import parse_json
from .errors import HarnessError, UsageError
from .git import validate_branch
from .render import markdown
from .render.document import Column, Document, Heading, Inline, Paragraph, Span, Table, inline
from .render.markdown import marker

__all__ = [
    "Deliverer",
    "Delivery",
    "GithubTarget",
    "Report",
    "comparison_reports",
    "deliver",
    "local_launch_summary",
    "queued_report",
    "read_reports",
    "step_summary",
]

T = TypeVar("T")
Action = Literal["created", "updated", "unchanged", "no_pr", "failed"]
RETRY_STATUSES = {429, 500, 502, 503, 504}
ATTEMPTS = 5
MAX_WAIT_S = 60.0
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_FILE = re.compile(r"^[A-Za-z0-9_.%-]{1,300}\.md$")


@dataclass(frozen=True)
class GithubTarget:
    """Where to post: the API, the repository and the token, from the environment."""

    api_url: str
    repository: str
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GithubTarget:
        repository = env.get("GITHUB_REPOSITORY", "")
        if not _REPOSITORY.match(repository):
            shown = repository[:80] or "not set"
            raise UsageError(f"GITHUB_REPOSITORY: expected owner/name, got {shown!r}")
        api_url = env.get("GITHUB_API_URL") or "https://api.github.com"
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"GITHUB_API_URL: not an http(s) URL: {api_url[:80]!r}")
        token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
        if not token:
            raise UsageError("GITHUB_TOKEN is not set (the workflow passes secrets.GITHUB_TOKEN)")
        return cls(api_url.rstrip("/"), repository, token)

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]


@dataclass(frozen=True)
class Report:
    """One entry of a reports folder's index, with its Markdown."""

    branch: str
    verdict: str
    headline: str
    markdown: str
    runs: tuple[str, ...]
    queued_commit: str | None = None  # a "queued" status rather than a run report
    kind: Literal["report", "queued", "compare"] = "report"

    def may_replace(self, body: str) -> bool:
        """A queued status never replaces the run report of its own commit (a fast run's
        report may land before the launch workflow posts)."""
        if self.queued_commit is None:
            return True
        return QUEUED in body or f"`{self.queued_commit[:7]}`" not in body


QUEUED = "<!-- harness:queued -->"
_SHA = re.compile(r"^[0-9a-f]{40}$")


def comparison_reports(table: str, branches: Sequence[str]) -> list[Report]:
    """One comparison comment per branch: ``check-results compare --format md`` under each
    branch's own compare marker (a second sticky comment, beside the run report)."""
    first, _, rest = table.partition("\n")
    if first != marker("compare"):
        raise UsageError("the comparison is not `check-results compare --format md` output")
    reports = []
    for branch in branches:
        validate_branch(branch)
        markdown = f"{marker('compare', branch)}\n{rest}"
        headline = f"{branch}: comparison"
        reports.append(Report(branch, "compared", headline, markdown, (), kind="compare"))
    return reports


def queued_report(data: object, where: str) -> Report | None:
    """The sticky comment's "queued" state from ``launch-job --backend wandb --format json``.

    None for a local launch (its runs already ran; nothing waits in a queue).
    """
    try:
        if not isinstance(data, dict) or data.get("schema_version") != 1:
            raise ValueError("not launch-job's JSON (schema_version 1)")
        if data.get("backend") != "wandb":
            return None
        branch, commit, queue = str(data["branch"]), str(data["commit"]), str(data["queue"])
        validate_branch(branch)
        if not _SHA.match(commit):
            raise ValueError(f"commit {commit[:60]!r}")
        rows: list[tuple[Inline, ...]] = []
        for item in data["items"]:
            url, seed, item_id = str(item["url"]), int(item["seed"]), str(item["id"])
            rows.append(((Span(str(seed)),), (Span(item_id, "code", url=url),)))
        job = str(data.get("job") or "—")
    except (KeyError, TypeError, ValueError, UsageError) as exc:
        raise UsageError(f"{where}: not a launch result ({exc})") from exc
    short = commit[:7]
    headline = f"{branch} @ {short}: {len(rows)} run(s) queued on {queue}"
    title = inline("⏳ ", Span(branch, "code"), " @ ", Span(short, "code"))
    title += inline(f": {len(rows)} run(s) queued on ", Span(queue, "code"))
    doc = Document(
        (
            Heading(title),
            Table((Column("seed", "right"), Column("queue item")), tuple(rows)),
            Paragraph(
                inline(
                    "W&B Launch job: ",
                    Span(job, "code"),
                    ". The run report replaces this comment when the runs end.",
                )
            ),
        ),
        marker("summary", branch),
    )
    first, rest = markdown.render(doc).split("\n", 1)
    text = f"{first}\n{QUEUED}\n{rest}"
    return Report(branch, "queued", headline, text, (), queued_commit=commit, kind="queued")


def local_launch_summary(data: dict[str, Any]) -> str:
    """The job summary of a local launch (``launch-job --format json`` of the local backend)."""
    rows = []
    for run in data.get("runs") or []:
        if isinstance(run, dict):
            rows.append(
                tuple(
                    (Span(str(run.get(k) if run.get(k) is not None else "")),)
                    for k in ("id", "seed", "state", "reason")
                )
            )
    columns = (Column("run"), Column("seed", "right"), Column("state"), Column("note"))
    title = inline("harness: launched ", Span(str(data.get("branch")), "code"), " here")
    return markdown.render(Document((Heading(title), Table(columns, tuple(rows)))))


@dataclass(frozen=True)
class Delivery:
    """What happened to one branch's report."""

    branch: str
    action: Action
    verdict: str
    runs: tuple[str, ...]
    pr: int | None = None
    pr_url: str | None = None
    comment_url: str | None = None
    draft_opened: bool = False
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """Reached the PR, or there is no PR and the job summary carries it."""
        return self.action != "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "action": self.action,
            "verdict": self.verdict,
            "runs": list(self.runs),
            "pr": self.pr,
            "pr_url": self.pr_url,
            "comment_url": self.comment_url,
            "draft_opened": self.draft_opened,
            "error": self.error,
        }


def read_reports(folder: Path) -> list[Report]:
    """The reports ``harness analyze`` wrote, validated (the folder may come from elsewhere)."""
    index_path = folder / "index.json"
    try:
        entries = parse_json(index_path.read_text(encoding="utf-8"))["reports"]
        reports = []
        for entry in entries:
            branch, name = str(entry["branch"]), str(entry["markdown"])
            validate_branch(branch)
            if not _FILE.match(name):
                raise ValueError(f"markdown file name {name[:80]!r}")
            text = (folder / name).read_text(encoding="utf-8")
            if text.split("\n", 1)[0] != marker("summary", branch):
                raise ValueError(f"{name} does not start with the marker of {branch!r}")
            runs = tuple(str(r) for r in entry["runs"])
            reports.append(
                Report(branch, str(entry["verdict"]), str(entry["headline"]), text, runs)
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{index_path}: not a reports index ({exc})") from exc
    return reports


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return min(float(value), MAX_WAIT_S) if value is not None else None
    except ValueError:
        return None


def _transient(exc: Exception) -> bool:
    import requests
    from github import GithubException

    if isinstance(exc, GithubException):
        limited = exc.status == 403 and _retry_after(exc) is not None  # secondary rate limit
        return exc.status in RETRY_STATUSES or limited
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _describe(exc: Exception) -> str:
    from github import GithubException

    if isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        return f"GitHub answered {exc.status}" + (f": {message}" if message else "")
    return " ".join(str(exc).split())[:200] or type(exc).__name__


class Deliverer:
    """Posts reports to one repository's PRs. ``sleep`` is injectable for the tests."""

    def __init__(
        self,
        target: GithubTarget,
        *,
        base_branch: str,
        open_draft_pr: bool = False,
        comment_author: str | None = None,
        write_interval_s: float = 1.0,
        retry_wait_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from github import Auth, Github

        self.target = target
        self.base_branch = base_branch
        self.open_draft_pr = open_draft_pr
        self.comment_author = comment_author
        self.retry_wait_s = retry_wait_s
        self.sleep = sleep
        self.github = Github(
            base_url=target.api_url,
            auth=Auth.Token(target.token),
            timeout=30,
            retry=None,  # retried here, where each attempt finds before it writes
            per_page=100,
            seconds_between_requests=0,
            seconds_between_writes=write_interval_s,  # GitHub's advice: 1 s between writes
        )
        self._repo: Any = None

    def with_retries(self, what: str, call: Callable[[], T]) -> T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return call()
            except Exception as exc:
                if attempt == ATTEMPTS or not _transient(exc):
                    raise DeliveryFailed(f"{what}: {_describe(exc)}") from exc
                wait = _retry_after(exc)
                backoff = self.retry_wait_s * 2.0 ** (attempt - 1)
                self.sleep(wait if wait is not None else min(backoff, MAX_WAIT_S))
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the client's connections (PyGithub keeps a pooled session open)."""
        self.github.close()

    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self.github.get_repo(self.target.repository)
        return self._repo

    def _ours(self, comment: Any, wanted: str) -> bool:
        first = (comment.body or "").split("\n", 1)[0]
        user = comment.user
        if first != wanted or user is None:
            return False
        return bool(user.type == "Bot" or user.login == self.comment_author)

    def _marked(self, pull: Any, wanted: str) -> list[Any]:
        """The PR's comments that are ours under marker ``wanted``, oldest first."""
        found = [c for c in pull.get_issue_comments() if self._ours(c, wanted)]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def _converge(self, pull: Any, report: Report, written: Any, found: Delivery) -> Delivery:
        """After writing ``written``: the oldest comment of the report's marker by the same
        author is kept. Its writer deletes the younger ones; the writer of a younger one
        deletes its own and puts its report into the oldest. Concurrent deliveries thus end
        on the oldest, each duplicate deleted once or twice (were every delivery to delete
        every duplicate it saw, k deliveries at once would send k² deletes)."""
        wanted = report.markdown.split("\n", 1)[0]
        author = written.user.login
        marked = [c for c in self._marked(pull, wanted) if c.user.login == author]
        if not marked:
            return found
        kept = marked[0]
        if kept.id == written.id:
            for duplicate in marked[1:]:
                _delete(duplicate)
            return found
        if any(c.id == written.id for c in marked):  # else the oldest's writer deleted it
            _delete(written)
        if kept.body != report.markdown and report.may_replace(kept.body):
            kept.edit(report.markdown)
            return replace(found, action="updated", comment_url=kept.html_url)
        return replace(found, action="unchanged", comment_url=kept.html_url)

    def _open_pull(self, branch: str) -> tuple[Any, bool]:
        repo = self.repo()
        pulls = repo.get_pulls(state="open", head=f"{self.target.owner}:{branch}")
        for pull in pulls:
            if pull.head.ref == branch:
                return pull, False
        if not self.open_draft_pr or branch == self.base_branch:
            return None, False
        pull = repo.create_pull(
            base=self.base_branch,
            head=branch,
            title=f"Experiment: {branch}",
            body=(
                f"Draft PR opened by harness for the experiment branch `{branch}`; "
                "its run reports are posted here."
            ),
            draft=True,
        )
        return pull, True

    def deliver_one(self, report: Report) -> Delivery:
        """Find the PR and the report's comment, then update it in place or create it;
        then converge on one comment (``_converge``)."""

        def attempt() -> tuple[Delivery, Any, Any]:
            nothing = Delivery(report.branch, "no_pr", report.verdict, report.runs)
            pull, opened = self._open_pull(report.branch)
            if pull is None:
                return nothing, None, None
            found = replace(nothing, pr=pull.number, pr_url=pull.html_url, draft_opened=opened)
            wanted = report.markdown.split("\n", 1)[0]  # its marker: report or comparison
            marked = self._marked(pull, wanted)
            if not marked:
                created = pull.create_issue_comment(report.markdown)
                done = replace(found, action="created", comment_url=created.html_url)
                return done, pull, created  # a concurrent delivery may have created one too
            existing = marked[0]
            if existing.body == report.markdown or not report.may_replace(existing.body):
                # No write, no clean-up: a duplicate seen now may be a concurrent delivery's,
                # which that delivery deletes itself (fifty deliveries that each deleted all
                # they saw would mostly find each other's deletes done).
                done = replace(found, action="unchanged", comment_url=existing.html_url)
                return done, None, None
            existing.edit(report.markdown)
            done = replace(found, action="updated", comment_url=existing.html_url)
            # Duplicates left by an interrupted delivery: the same clean-up as after a create.
            return done, (pull if len(marked) > 1 else None), existing

        delivery, pull, written = self.with_retries(report.branch, attempt)
        if pull is None:
            return delivery
        return self.with_retries(
            f"{report.branch} (duplicate comments)",
            lambda: self._converge(pull, report, written, delivery),
        )


def _delete(comment: Any) -> None:
    """Delete a comment; one a concurrent delivery deleted first (404) is as good."""
    from github import GithubException

    try:
        comment.delete()
    except GithubException as exc:
        if exc.status != 404:
            raise


class DeliveryFailed(HarnessError):
    """A report could not be posted after the retries (exit 1)."""


def deliver(reports: Sequence[Report], deliverer: Deliverer) -> list[Delivery]:
    """Each report to its PR; a failure is recorded and the others still go out.

    The repository is read first: when GitHub cannot be reached at all (or refuses the
    token), that is one error, not one per branch.
    """
    if not reports:
        return []

    def repository() -> None:
        deliverer.repo()

    try:
        deliverer.with_retries(deliverer.target.repository, repository)
    except DeliveryFailed as exc:
        return [Delivery(r.branch, "failed", r.verdict, r.runs, error=str(exc)) for r in reports]
    done = []
    for report in reports:
        try:
            done.append(deliverer.deliver_one(report))
        except DeliveryFailed as exc:
            failed = Delivery(report.branch, "failed", report.verdict, report.runs, error=str(exc))
            done.append(failed)
    return done


_SUMMARY_BUDGET = 900_000  # GitHub takes up to 1 MiB of job summary per step
_ACTIONS = {
    "created": "comment posted",
    "updated": "comment updated",
    "unchanged": "comment already up to date",
    "no_pr": "no open PR: the report is below",
    "failed": "not delivered",
}


def step_summary(deliveries: Sequence[Delivery], reports: Sequence[Report]) -> str:
    """The job summary: one row per branch, then the reports that reached no PR."""
    lines = ["### harness: run reports", ""]
    if not deliveries:
        return "\n".join([*lines, "Nothing new to report: every ended run has been reported.", ""])
    rows = []
    for d in deliveries:
        pr = (Span(f"#{d.pr}", url=d.pr_url),) if d.pr and d.pr_url else (Span("—"),)
        what = _ACTIONS[d.action] + (" (draft PR opened)" if d.draft_opened else "")
        delivery: Inline = (Span(what, url=d.comment_url),)
        if d.error:
            delivery += (Span(f": {d.error}"),)
        rows.append(((Span(d.branch, "code"),), (Span(d.verdict),), pr, delivery))
    columns = (Column("branch"), Column("verdict"), Column("pull request"), Column("delivery"))
    lines += markdown.render(Document((Table(columns, tuple(rows)),))).splitlines()
    lines.append("")
    by_branch = {r.branch: r for r in reports}
    budget = _SUMMARY_BUDGET - sum(len(line) + 1 for line in lines)
    for d in deliveries:
        report = by_branch.get(d.branch)
        if report is None:
            continue
        unposted = d.action in ("no_pr", "failed") and report.kind == "report"
        if unposted or report.kind == "queued":
            if len(report.markdown) + 2 > budget:
                shown = markdown.render_inline(inline("The report of ", Span(d.branch, "code")))
                lines.append(f"_{shown} does not fit here._")
                continue
            budget -= len(report.markdown) + 2
            lines += [report.markdown, ""]
    return "\n".join(lines)
