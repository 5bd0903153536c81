"""Flows that wire the parts together: launch a branch, summarise it, compare branches.

Wiring only: the logic lives in compare.py, report.py, the stores and the launchers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .analysis import BranchAnalysis, Changes, ParamChange, summarize_curves
from .analysts import Analyst
from .analysts.checkout import fingerprint, read_only_checkout
from .analysts.prompt import (
    READ_CHECKOUT,
    SYSTEM,
    build_prompt,
    parse_answer,
    redact,
    secret_values,
)
from .bounded import parse_json
from .budget import budget_json, over_budget, spending
from .compare import compare, latest_runs, select_baseline
from .config import CONFIG_FILE, BudgetSettings, Settings, parse_budget
from .diagnose import Highlight, diagnose, highlights
from .errors import (
    AnalysisUnavailable,
    BranchError,
    ConfigError,
    MissingData,
    StoreError,
    UsageError,
)
from .events import RunEvent, validate_run_id
from .failures import SourceLines, group_failures, locate, parse_traceback, source_lines
from .folders import swap_in
from .git import Git, validate_branch
from .inert import one_line
from .launchers import LaunchedRun, LocalLauncher, open_launcher
from .launches import launch_lock, live_launches, start_launch
from .leaderboard import Leaderboard
from .manifest import update_manifest, write_text_atomic
from .plot import PlotResult, Side, draw_metric
from .protection import config_at, evaluation_changes, protected_paths
from .render.phrases import headline
from .report import Report
from .runs import MetricSpec, Run, RunState, RunStore
from .stores import open_store

if TYPE_CHECKING:
    from .launchers.wandb import WandbLaunchOutcome, WandbLaunchPlan

__all__ = [
    "Queued",
    "RanHere",
    "analyze",
    "branch_report",
    "compare_report",
    "launch_branch",
    "leaderboard_report",
    "mark_reported",
    "mark_runs_reported",
    "ordered_metrics",
    "plot_branches",
]


def ordered_metrics(settings: Settings, first: str | None = None) -> list[MetricSpec]:
    """The declared metrics, with ``first`` moved to the front (it must be declared)."""
    metrics = list(settings.metrics)
    if not metrics:
        where = settings.source or settings.root / "harness.yaml"
        raise ConfigError(f"{where}: metrics: no metrics are declared, so nothing can be compared")
    if first is not None:
        chosen = settings.metric(first)
        if chosen is None:
            names = ", ".join(m.name for m in metrics)
            raise UsageError(f"--metric {first!r} is not declared in harness.yaml ({names})")
        metrics = [chosen, *(m for m in metrics if m is not chosen)]
    return metrics


def evaluation_changed(
    settings: Settings, runs: Sequence[Run], baseline_branch: str
) -> dict[str, list[str]]:
    """Per branch, the protected paths its newest commit with runs changes against the
    baseline commit (what is protected: the baseline commit's harness.yaml). Branches or
    commits this checkout's git lacks are left out (nothing provable)."""
    baseline = select_baseline(baseline_branch, runs)
    if baseline is None or not baseline.commit:
        return {}
    heads: dict[str, str] = {}
    for branch in {r.branch for r in runs if r.branch and r.branch != baseline_branch}:
        commit, _ = latest_runs([r for r in runs if r.branch == branch])
        if commit:
            heads[branch] = commit
    git = Git(settings.root)
    present = git.existing([baseline.commit, *heads.values()])
    if baseline.commit not in present:
        return {}
    patterns = protected_paths(git, baseline.commit)
    found: dict[str, list[str]] = {}
    for branch, commit in heads.items():
        if commit in present and commit != baseline.commit:
            changes = evaluation_changes(git, baseline.commit, commit, patterns)
            if changes:
                found[branch] = changes
    return found


def protected_changes(settings: Settings, branch: str, *, repo: Path) -> list[str]:
    """What the branch's head commit changes of the protected paths, against the baseline
    branch's head commit (the baseline's own harness.yaml says what is protected)."""
    validate_branch(branch)
    if branch == settings.baseline_branch:
        return []
    git = Git(repo)
    head = git.resolve_branch(branch)
    try:
        base = git.resolve_branch(settings.baseline_branch)
    except BranchError:
        return []  # no baseline branch here: nothing to be judged against yet
    return evaluation_changes(git, base, head) or []


def baseline_budget(
    settings: Settings, branch: str, *, repo: Path, own: Settings | None = None
) -> BudgetSettings:
    """The budget of the baseline commit's harness.yaml (a branch's own cannot raise it);
    the branch's own when it is the baseline, or when there is no baseline branch yet."""
    git = Git(repo)
    if branch != settings.baseline_branch:
        try:
            base: str | None = git.resolve_branch(settings.baseline_branch)
        except BranchError:
            base = None
        data = config_at(git, base) if base else None  # invalid YAML: a ConfigError
        if data is not None:
            raw = data.get("budget") if isinstance(data, dict) else None
            return parse_budget(raw, f"{CONFIG_FILE} at {settings.baseline_branch}: budget")
    return (own or settings).budget


def branch_budget(settings: Settings, runs: Sequence[Run], branch: str) -> dict[str, Any] | None:
    """The branch's budget, spent and left (None without one)."""
    if Git(settings.root).toplevel() is None:
        budget = settings.budget
    else:
        budget = baseline_budget(settings, branch, repo=settings.root)
    if not budget.limited:
        return None
    return budget_json(budget, spending(runs, live_launches(settings.home), branch))


def refuse_protected(settings: Settings, branch: str, *, repo: Path, allow: bool) -> list[str]:
    """UsageError (exit 2) naming the protected paths the branch changes, unless ``allow``:
    then those changes are returned, to be recorded with its runs."""
    changes = protected_changes(settings, branch, repo=repo)
    if changes and not allow:
        shown = ", ".join(changes[:10]) + (
            f" and {len(changes) - 10} more" if len(changes) > 10 else ""
        )
        raise UsageError(
            f"{branch} changes protected paths ({shown}): its runs could not be compared with"
            f" {settings.baseline_branch}; --allow-protected launches it anyway, and its runs"
            " are never comparable"
        )
    return changes


def branch_report(
    settings: Settings,
    store: RunStore,
    branch: str,
    *,
    baseline: str | None = None,
    metric: str | None = None,
    commit: str | None = None,
    also: Sequence[Run] = (),
) -> Report:
    """How one branch's newest runs (or its runs at ``commit``) compare with the baseline;
    ``also``: runs the store cannot list (W&B queue items whose agent failed to start)."""
    validate_branch(branch)
    runs = [*store.runs(), *also]
    if commit is not None:  # the branch's runs at other commits are left out
        runs = [r for r in runs if r.branch != branch or r.commit == commit]
    if not any(run.branch == branch for run in runs):
        known = sorted({r.branch for r in runs if r.branch})
        hint = f" (branches with runs: {', '.join(known)})" if known else " (the store is empty)"
        raise StoreError(f"no runs of branch {branch!r} in the store{hint}")
    base = baseline or settings.baseline_branch
    comparison = compare(
        runs,
        ordered_metrics(settings, metric),
        baseline_branch=base,
        branches=[branch],
        confidence=settings.compare.confidence,
        evaluation_changed=evaluation_changed(settings, runs, base),
    )
    budget = branch_budget(settings, runs, branch)
    return Report("summary", comparison, warnings=tuple(store.warnings), budget=budget)


def compare_report(
    settings: Settings,
    store: RunStore,
    *,
    branches: Sequence[str] | None = None,
    baseline: str | None = None,
    metric: str | None = None,
) -> Report:
    """Every branch with runs (or the ones named) against the baseline."""
    for branch in branches or ():
        validate_branch(branch)
    if baseline:
        validate_branch(baseline)
    runs = store.runs()
    base = baseline or settings.baseline_branch
    comparison = compare(
        runs,
        ordered_metrics(settings, metric),
        baseline_branch=base,
        branches=branches,
        confidence=settings.compare.confidence,
        evaluation_changed=evaluation_changed(settings, runs, base),
    )
    return Report("compare", comparison, warnings=tuple(store.warnings))


def leaderboard_report(
    settings: Settings,
    store: RunStore,
    *,
    branches: Sequence[str] | None = None,
    baseline: str | None = None,
    metric: str | None = None,
    repo: Path | None = None,
) -> Leaderboard:
    """Every branch ranked against the baseline, each flagged stale when it was not made on
    top of the baseline's commit (checked in ``repo``'s git, when it has both commits)."""
    comparison = compare_report(
        settings, store, branches=branches, baseline=baseline, metric=metric
    ).comparison
    base_commit = comparison.baseline.commit if comparison.baseline else None
    commits = [r.commit for r in comparison.branches if r.commit]
    known = (
        Git(repo).descend_from(base_commit, commits)
        if repo is not None and base_commit is not None and commits
        else {}
    )
    stale: dict[str, bool | None] = {}
    for result in comparison.branches:
        contains = known.get(result.commit) if result.commit else None
        stale[result.branch] = None if contains is None else not contains
    return Leaderboard(comparison, stale=stale, warnings=tuple(store.warnings))


def plot_branches(
    settings: Settings,
    store: RunStore,
    out: Path,
    *,
    metric: str | None = None,
    branches: Sequence[str] | None = None,
    baseline: str | None = None,
) -> PlotResult:
    """A PNG of one metric over steps: each branch's seeds (mean ± std) and the baseline's.

    Branches named in ``branches`` must have a curve of the metric; when none are named,
    every branch with runs is drawn and those without curves are skipped with a warning.
    """
    spec = ordered_metrics(settings, metric)[0]
    report = compare_report(settings, store, branches=branches, baseline=baseline)
    comparison = report.comparison
    sides: list[Side] = []
    warnings = list(report.all_warnings)
    if comparison.baseline is not None:
        curves = [c for c in (store.curve(r.id, spec.name) for r in comparison.baseline.runs) if c]
        if curves:
            label = f"{comparison.baseline_branch} (baseline)"
            sides.append(Side(label, tuple(curves), baseline=True))
        else:
            warnings.append(f"baseline {comparison.baseline_branch}: no curve of {spec.name}")
    else:
        warnings.append(f"baseline {comparison.baseline_branch}: no finished run to draw")
    for result in comparison.branches:
        finished = [r for r in result.runs if r.state is RunState.FINISHED]
        curves = [c for c in (store.curve(r.id, spec.name) for r in finished or result.runs) if c]
        if curves:
            sides.append(Side(result.branch, tuple(curves)))
            continue
        where = f"{result.branch} @ {result.commit[:7]}" if result.commit else result.branch
        problem = f"no curve of {spec.name} in the runs of {where} ({len(result.runs)} run(s))"
        if branches is not None:
            raise MissingData(problem)
        warnings.append(problem)
    if not any(not side.baseline for side in sides):
        raise MissingData(f"no branch has a curve of {spec.name} to draw")
    draw_metric(out, spec, sides)
    return PlotResult(out, spec.name, tuple(sides), tuple(warnings))


@dataclass(frozen=True)
class RanHere:
    """A local launch: the runs it ran, and the branch's report (None without metrics)."""

    runs: list[LaunchedRun]
    report: Report | None
    report_path: Path | None


@dataclass(frozen=True)
class Queued:
    """A W&B launch: its plan, what was queued (None: a dry run, nothing contacted), and
    the protected paths the branch changes (advisory on W&B)."""

    plan: WandbLaunchPlan
    outcome: WandbLaunchOutcome | None
    protected_changes: list[str]


def launch_branch(
    settings: Settings,
    branch: str,
    *,
    repo: Path,
    seeds: int | None = None,
    timeout_s: float | None = None,
    output: Callable[[str], None] | None = None,
    allow_protected: bool = False,
    dry_run: bool = False,
    warn: Callable[[str], None] | None = None,
) -> RanHere | Queued:
    """Launch the branch's newest commit with the launcher of ``settings.backend``.

    Locally its seeds run here, then its report is written to ``reports/<branch>.md``; on
    W&B they are queued for Launch agents (``dry_run``: only planned). A branch that
    changes protected paths is refused unless ``allow_protected`` (then recorded locally,
    ``warn``-ed about on W&B); a launch that could pass the baseline's budget is refused
    before anything starts."""
    validate_branch(branch)
    launcher = open_launcher(settings, repo=repo, output=output)
    if not isinstance(launcher, LocalLauncher):
        if timeout_s is not None:
            raise UsageError("--timeout is for the local backend: W&B Launch queues set limits")
        plan = launcher.plan(branch, seeds=seeds)
        # Advisory on W&B: the push workflow runs the branch's own code; analyze and
        # compare, which run the default branch's code, enforce it.
        changed = refuse_protected(settings, branch, repo=repo, allow=allow_protected)
        if changed and warn is not None:
            shown = one_line(", ".join(changed[:5]), 500)  # file names from git: shown inert
            warn(f"protected paths changed ({shown})")
        if dry_run:
            return Queued(plan, None, changed)
        budget = baseline_budget(settings, branch, repo=repo)
        return Queued(plan, launcher.queue(plan, budget=budget), changed)
    if dry_run:
        raise UsageError("--dry-run is for the wandb backend (--backend wandb)")
    return _run_here(
        settings, launcher, branch, repo=repo, seeds=seeds, timeout_s=timeout_s,
        output=output, allow_protected=allow_protected,
    )  # fmt: skip


def _run_here(
    settings: Settings,
    launcher: LocalLauncher,
    branch: str,
    *,
    repo: Path,
    seeds: int | None,
    timeout_s: float | None,
    output: Callable[[str], None] | None,
    allow_protected: bool,
) -> RanHere:
    commit = Git(repo).resolve_branch(branch)
    own = launcher.branch_settings(branch, commit)  # its config's errors come first
    changed = refuse_protected(settings, branch, repo=repo, allow=allow_protected)
    if changed and output is not None:
        shown = one_line(", ".join(changed[:5]), 500)  # file names from git: shown inert
        output(f"⚠ {branch} changes protected paths ({shown}): not comparable")
    count = seeds or own.launch.seeds
    budget = baseline_budget(settings, branch, repo=repo, own=own)
    with launch_lock(settings.home):  # the check and the record, one launcher at a time
        spent = (
            spending(open_store(settings).runs(), live_launches(settings.home), branch)
            if budget.limited
            else None
        )
        if spent is not None:
            limit = timeout_s or own.launch.timeout_s
            problems = over_budget(budget, spent, seeds=count, timeout_s=limit)
            if problems:
                raise UsageError(f"{branch}: over budget, nothing launched: {'; '.join(problems)}")
        record = start_launch(settings.home, branch, commit, count)
    runs = launcher.launch(branch, seeds=seeds, timeout_s=timeout_s, record=record)
    if changed:  # recorded with the runs, for whoever reads them without this git
        for run in runs:
            update_manifest(run.run_dir, evaluation_changed=changed[:50])
    own = launcher.branch_settings(branch, runs[0].commit) if runs else settings
    if not own.metrics:
        return RanHere(runs, None, None)
    store = open_store(settings)
    report = branch_report(own, store, branch)
    path = report_path(settings, branch)
    write_text_atomic(path, report.to_markdown())
    return RanHere(runs, report, path)


# With ``every`` (the report workflows), one run reports at most this many branches, the
# longest waiting first, so a backlog cannot run one job past its timeout with nothing
# written; the rest stay unreported for the next event or poll.
MAX_BRANCHES_PER_RUN = 20
MAX_NAME_BYTES = 200  # of a file name made from a branch (file systems allow 255)


def branch_file_stem(branch: str, *, hashed: bool = False) -> str:
    """A file name for ``branch``: the branch percent-quoted, or, when that is longer than
    MAX_NAME_BYTES (100 path components, 60 accented letters) or ``hashed``, its start,
    ``%%`` and a hash of the whole branch. ``%%`` never occurs in a quoted name (every
    ``%`` there starts an escape), so two branches never share a name, and every name
    fits."""
    quoted = quote(branch, safe="")
    if len(quoted) <= MAX_NAME_BYTES and not hashed:
        return quoted
    head = quoted[: MAX_NAME_BYTES - 20]
    cut = head.rfind("%")
    head = head[:cut] if cut >= len(head) - 2 else head  # never half an escape
    return f"{head}%%{hashlib.sha256(branch.encode()).hexdigest()[:16]}"


def report_path(settings: Settings, branch: str) -> Path:
    """``reports/<branch>.md``: the local twin of the branch's PR comment (a flat, hashed
    name when a part of the branch would not fit in a file name)."""
    parts = branch.split("/")
    if all(len(part.encode()) <= MAX_NAME_BYTES for part in parts) and len(parts) <= 32:
        return settings.home / "reports" / f"{branch}.md"
    return settings.home / "reports" / f"{branch_file_stem(branch, hashed=True)}.md"


ENDED = (RunState.FINISHED, RunState.FAILED, RunState.CRASHED)
LOG_LINES = 200  # read from the end of a log, never the whole file


def pending_runs(
    runs: Sequence[Run], event: RunEvent, baseline_branch: str, *, every: bool = False
) -> list[Run]:
    """Ended runs not reported yet, narrowed by the event's run id, branch and state.

    A run the event names by id is reported even if it was before: its comment is then
    updated in place (a team re-sending a webhook wants the report refreshed). With
    ``every``, the event narrows nothing: every ended run not reported yet is pending, and
    the run it names besides (the report workflows share one queue, in which GitHub keeps
    only the newest waiting run: whichever run goes must report what the dropped ones
    named)."""
    if event.run_id and not every and not any(r.id == event.run_id for r in runs):
        raise StoreError(f"event: no run {event.run_id!r} in the store")
    ended = [
        r
        for r in runs
        if r.state in ENDED
        and r.branch
        and (r.reported_at is None or r.id == event.run_id)  # named: reported again
    ]
    if every:
        return ended
    named = [
        r
        for r in ended
        if (event.run_id is None or r.id == event.run_id)
        and (event.branch is None or r.branch == event.branch)
        and (event.state is None or r.state.value == event.state)
    ]
    if not any(r.branch == baseline_branch for r in named):
        return named
    # A baseline run ended: reports made while it ran were provisional and left their runs
    # unmarked; they are made again now, whatever branch the event named.
    waiting = [r for r in ended if r.reported_at is None and r not in named]
    return [*named, *waiting]


def analyze_branch(
    settings: Settings,
    store: RunStore,
    runs: Sequence[Run],
    branch: str,
    reported: Sequence[Run],
    *,
    repo: Path | None,
) -> BranchAnalysis:
    """Gather everything the run-ended report of one branch says."""
    metrics = ordered_metrics(settings)
    comparison = compare(
        runs,
        metrics,
        baseline_branch=settings.baseline_branch,
        branches=[branch],
        confidence=settings.compare.confidence,
        evaluation_changed=evaluation_changed(settings, runs, settings.baseline_branch),
    )
    result = comparison.branches[0]
    git = Git(repo) if repo is not None else None
    tree = git.files(result.commit) if git is not None and result.commit else frozenset()
    diagnoses, failed = [], []
    found: list[tuple[Run, Highlight]] = []
    for run in result.runs:
        log = store.log_tail(run.id, LOG_LINES)
        diagnosis = diagnose(run, log)
        if diagnosis is not None:
            diagnoses.append((run, diagnosis))
            traceback = parse_traceback(log)
            failed.append((run, diagnosis, locate(traceback, tree) if traceback else None))
        found += [(run, h) for h in highlights(run, store.curve(run.id, "diagnostics/grad_norm"))]

    def source(path: str, line: int) -> SourceLines | None:
        if git is None or not result.commit:
            return None
        text = git.show(result.commit, path, limit=MAX_SOURCE_BYTES, errors="replace")
        return source_lines(text, path, line) if text is not None else None

    failures = group_failures(failed, source=source)
    primary = comparison.primary
    baseline = comparison.baseline
    changes = None
    if git is not None and baseline is not None and baseline.commit and result.commit:
        found_changes = git.changes(baseline.commit, result.commit)
        if found_changes is not None:
            commits, stat = found_changes
            first = [f.source.path for f in failures if f.source] + _entry_files(settings)
            diff = git.diff(baseline.commit, result.commit, first=first)
            changes = Changes(baseline.commit, result.commit, tuple(commits), stat, diff)
    branch_curves = tuple(store.curve(r.id, primary.name) for r in result.runs) if primary else ()
    baseline_curves = (
        tuple(store.curve(r.id, primary.name) for r in baseline.runs)
        if baseline and primary
        else ()
    )
    curves = []
    if primary is not None:
        for side, side_curves in (
            (comparison.baseline_branch, baseline_curves),
            (branch, branch_curves),
        ):
            summary = summarize_curves(primary.name, side, side_curves, primary.goal)
            if summary is not None and (side != branch or branch != comparison.baseline_branch):
                curves.append(summary)
    seeds = max(1, len(result.runs))
    quoted = shlex.quote(branch)  # a valid ref may hold $(…) or ;: never paste it raw
    return BranchAnalysis(
        comparison=comparison,
        result=result,
        reported_runs=tuple(reported),
        diagnoses=tuple(diagnoses),
        failures=tuple(failures),
        highlights=tuple(found),
        branch_curves=branch_curves,
        baseline_curves=baseline_curves,
        curves=tuple(curves),
        params=tuple(param_changes(baseline.runs if baseline else (), result.runs))
        if branch != comparison.baseline_branch
        else (),
        changes=changes,
        reproduce=(
            f"git fetch origin {quoted} && git switch {quoted}",
            f"launch-job --branch {quoted} --seeds {seeds}",
            f"check-results summary --branch {quoted}",
        ),
        warnings=tuple(
            about_runs(store.warnings, [*result.runs, *(baseline.runs if baseline else ())])
        ),
    )


_ABOUT_RUN = re.compile(r"\brun ([A-Za-z0-9_.-]+): ")  # "run x: …", "… of run x: …"


def about_runs(warnings: Sequence[str], runs: Sequence[Run]) -> list[str]:
    """The store's warnings a branch's report shows: those about its runs or its
    baseline's, and those about no run in particular (never another branch's)."""
    ids = {run.id for run in runs}
    kept = []
    for warning in warnings:
        about = _ABOUT_RUN.search(warning)
        if (about is None or about.group(1) in ids) and warning not in kept:
            kept.append(warning)
    return kept


MAX_SOURCE_BYTES = 2_000_000
IDENTITY_KEYS = frozenset({"seed", "branch", "commit", "group", "run_id", "harness_run_id"})


def _entry_files(settings: Settings) -> list[str]:
    entry = settings.launch.entry_point
    return [entry] if entry and not entry.startswith("-") else []


def _shown_value(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, allow_nan=True)
    return text if len(text) <= 80 else text[:79] + "…"


def param_changes(baseline: Sequence[Run], branch: Sequence[Run]) -> list[ParamChange]:
    """Hyperparameters (config keys, but the run's identity) whose values differ between
    the baseline's runs and the branch's; each side's distinct values."""

    def values(runs: Sequence[Run]) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for run in runs:
            for key, value in run.config.items():
                if key in IDENTITY_KEYS or str(key).startswith("_"):
                    continue
                shown = seen.setdefault(str(key), [])
                text = _shown_value(value)
                if text not in shown and len(shown) < 5:
                    shown.append(text)
        return seen

    if not baseline or not branch:
        return []
    base, mine = values(baseline), values(branch)
    keys = sorted(set(base) | set(mine))
    return [
        ParamChange(key, tuple(base.get(key, ())), tuple(mine.get(key, ())))
        for key in keys
        if sorted(base.get(key, ())) != sorted(mine.get(key, ()))
    ][:100]


def analyze(
    settings: Settings,
    store: RunStore,
    event: RunEvent,
    *,
    out_dir: Path,
    repo: Path | None,
    analyst: Analyst | None,
    every: bool = False,
) -> list[BranchAnalysis]:
    """One report per branch with newly ended runs, written to ``out_dir`` with an index.

    The event narrows which runs, unless ``every`` (``pending_runs``). The folder is
    replaced whole: reports are written to a sibling temporary folder that is renamed into
    place, so a failure leaves the previous folder as it was.
    """
    if event.project and event.project != settings.wandb.project:
        raise UsageError(
            f"event: project {event.project!r} is not this repository's W&B project"
            f" ({settings.wandb.project!r} in harness.yaml or WANDB_PROJECT)"
        )
    entity = settings.wandb.entity
    if event.entity and entity and event.entity != entity:
        raise UsageError(
            f"event: entity {event.entity!r} is not this repository's W&B entity"
            f" ({entity!r} in harness.yaml or WANDB_ENTITY)"
        )
    runs = store.runs()
    pending = pending_runs(runs, event, settings.baseline_branch, every=every)
    branches = sorted({r.branch for r in pending if r.branch})
    if every and len(branches) > MAX_BRANCHES_PER_RUN:  # a backlog: oldest first, bounded
        first_ended = {b: min(r.ended_at or "" for r in pending if r.branch == b) for b in branches}
        branches = sorted(sorted(branches, key=lambda b: first_ended[b])[:MAX_BRANCHES_PER_RUN])
    analyses = []
    for branch in branches:
        new = [r for r in pending if r.branch == branch]
        found = analyze_branch(settings, store, runs, branch, new, repo=repo)
        analyses.append(with_analysis(settings, found, analyst, repo=repo))
    write_analyses(analyses, out_dir)
    return analyses


def with_analysis(
    settings: Settings,
    analysis: BranchAnalysis,
    analyst: Analyst | None,
    *,
    repo: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> BranchAnalysis:
    """The report with the engine's answer added (known secrets redacted, a patch kept only
    when it applies at the run's commit), or with a note saying why there is none."""
    if analyst is None:
        return replace(analysis, analysis_note="analysis.engine is none in harness.yaml")
    prompt = build_prompt(analysis.prompt_data(), cap=settings.analysis.max_prompt_chars)
    commit = analysis.result.commit
    try:
        if settings.analysis.read_checkout and repo is not None and commit:
            with read_only_checkout(repo, commit) as checkout:
                before = fingerprint(checkout)
                text = analyst.analyze(SYSTEM + READ_CHECKOUT, prompt, checkout=checkout)
                if fingerprint(checkout) != before:
                    raise AnalysisUnavailable("the engine changed the checkout it was to read")
        else:
            text = analyst.analyze(SYSTEM, prompt)
    except AnalysisUnavailable as exc:
        return replace(analysis, analyst=analyst.name, analysis_note=str(exc))
    text = redact(text, secret_values(os.environ if env is None else env))
    answer = parse_answer(text)
    if answer.patch is not None:
        problem = (
            Git(repo).apply_check(commit, answer.patch)
            if repo is not None and commit
            else "there is no checkout of the run's commit to check it against"
        )
        if problem is not None:
            note = f"A suggested patch was left out: git apply --check rejected it ({problem})."
            answer = replace(answer, patch=None, patch_note=note)
    return replace(analysis, analyst=analyst.name, answer=answer)


def write_analyses(analyses: Sequence[BranchAnalysis], out_dir: Path) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        index = []
        for analysis in analyses:
            name = branch_file_stem(analysis.branch)
            (staging / f"{name}.md").write_text(analysis.to_markdown(), encoding="utf-8")
            (staging / f"{name}.json").write_text(
                json.dumps(analysis.to_json(), indent=1, allow_nan=False), encoding="utf-8"
            )
            index.append(
                {
                    "branch": analysis.branch,
                    "verdict": analysis.verdict,
                    "headline": headline(analysis.comparison, analysis.result),
                    "markdown": f"{name}.md",
                    "json": f"{name}.json",
                    "provisional": analysis.provisional,
                    # what mark-reported marks: none while provisional, so the next
                    # analyze (after the baseline's last run) makes the report again
                    "runs": [r.id for r in analysis.marked_runs],
                    "covers": [r.id for r in analysis.reported_runs],
                }
            )
        (staging / "index.json").write_text(
            json.dumps({"schema_version": 1, "reports": index}, indent=1), encoding="utf-8"
        )
        swap_in(staging, out_dir)  # never a moment without a reports folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def mark_reported(store: RunStore, reports_dir: Path) -> list[str]:
    """Mark the runs of a reports folder's index as reported (after delivery succeeded)."""
    index_path = reports_dir / "index.json"
    try:
        index = parse_json(index_path.read_text(encoding="utf-8"))
        run_ids = [run_id for report in index["reports"] for run_id in report["runs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{index_path}: not a reports index ({exc})") from exc
    return mark_runs_reported(store, run_ids, source=str(index_path))


def mark_runs_reported(
    store: RunStore, run_ids: Sequence[str], *, source: str | None = None
) -> list[str]:
    """Mark runs reported: all must be valid ids of existing runs before any is marked.
    ``source`` names where the ids came from in the error about an invalid one."""
    for run_id in run_ids:
        try:
            validate_run_id(run_id)
        except UsageError as exc:
            raise UsageError(f"{source}: {exc}" if source else str(exc)) from exc
    for run_id in run_ids:
        store.get(run_id)
    store.mark_reported(run_ids)
    return list(run_ids)
