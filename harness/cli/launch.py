"""launch-job: run a branch's committed code as tracked runs, here or on W&B Launch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import parse_duration
from ..errors import ConfigError, UsageError
from ..git import Git
from ..launchers.supervision import Terminated, sigterm_interrupts
from ..pipelines import Queued, RanHere, launch_branch
from ..runs import RunState
from .common import (
    console,
    echo_json,
    format_option,
    get_settings,
    reports_errors,
    settings_options,
)

if TYPE_CHECKING:
    from ..launchers.wandb import WandbLaunchPlan


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
@click.option(
    "--dry-run", is_flag=True, help="wandb backend: print the plan; nothing is contacted."
)
@click.option(
    "--allow-protected",
    is_flag=True,
    help="Launch a branch that changes protected paths (its runs are never comparable).",
)
@format_option(
    "table", "json", help="json: print the runs as JSON on stdout; progress goes to stderr."
)
@settings_options
@reports_errors
def launch(
    branch: str,
    seeds: int | None,
    timeout: str | None,
    dry_run: bool,
    allow_protected: bool,
    fmt: str,
    backend: str | None,
    home: Path | None,
) -> None:
    """Run BRANCH's committed code (never the working tree) as tracked runs.

    With the local backend each run gets a git worktree under HARNESS_HOME/worktrees, the
    branch's own harness.yaml and entry point, and W&B in offline mode; output streams here
    and to the run's output.log. Afterwards the branch's report is written to
    HARNESS_HOME/reports/<branch>.md. Exits 1 when a run did not finish.

    With the wandb backend the branch's commit becomes a W&B Launch git job and one item
    per seed is queued on launch.queue (HARNESS_LAUNCH_QUEUE); an agent runs them. The
    commit must be pushed to origin. With launch.supersede, this branch's items of older
    commits that no agent has claimed yet are deleted. Exits 2 when nothing was queued,
    1 when queuing failed part-way (what was queued is deleted again).

    A branch that changes a protected path (harness/, .github/, actions/, harness.yaml's
    metrics, protected or budget keys, and the baseline's protected: list) is refused
    with exit 2, naming them; --allow-protected runs it, never comparable.
    """
    settings = get_settings(backend, home)
    repo = Git(Path.cwd()).main_root()
    if repo is None:
        raise UsageError(f"{Path.cwd()} is not inside a git repository")
    stream = sys.stderr if fmt == "json" else sys.stdout  # progress; stdout keeps the JSON

    def show(line: str) -> None:
        click.echo(line, file=stream)

    here = settings.backend == "local"
    undone = "the run is recorded as crashed" if here else "what was queued is deleted again"
    try:
        with sigterm_interrupts():
            result = launch_branch(
                settings,
                branch,
                repo=repo,
                seeds=seeds,
                timeout_s=_timeout(timeout),
                output=show,
                allow_protected=allow_protected,
                dry_run=dry_run,
                warn=lambda line: click.echo(f"launch-job: warning: {line}", err=True),
            )
    except Terminated:
        click.echo(f"launch-job: terminated; {undone}", err=True)
        raise SystemExit(143) from None
    except KeyboardInterrupt:
        click.echo(f"launch-job: interrupted; {undone}", err=True)
        raise SystemExit(130) from None
    if isinstance(result, Queued):
        _show_queued(result, fmt)
    else:
        _show_ran(result, branch, fmt)


def _show_ran(result: RanHere, branch: str, fmt: str) -> None:
    runs, report, path = result.runs, result.report, result.report_path
    failed = [r for r in runs if r.state is not RunState.FINISHED]
    if fmt == "json":
        echo_json(
            {
                "schema_version": 1,
                "backend": "local",
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


def _show_queued(result: Queued, fmt: str) -> None:
    plan, outcome = result.plan, result.outcome
    if outcome is None:  # a dry run
        if fmt == "json":
            data = _wandb_json(plan.to_json(), plan.job_ref(), plan.warnings, dry_run=True)
            data["items"] = [
                {"id": None, "seed": seed, "url": None, "run_id": None, "run_url": None}
                | {"run_config": plan.run_config(seed)}
                for seed in range(plan.seeds)
            ]
            echo_json(data)
        else:
            click.echo(_render_plan(plan))
        _warn(plan.warnings)
        return
    data = {**plan.to_json(), "entity": outcome.entity}
    if fmt == "json":
        result_json = _wandb_json(data, outcome.job, outcome.warnings, dry_run=False)
        result_json["items"] = [
            {"id": i.id, "seed": i.seed, "url": i.url, "run_id": i.run_id, "run_url": i.run_url}
            for i in outcome.items
        ]
        result_json["superseded"] = [
            {"id": s.id, "commit": s.commit, "seed": s.seed} for s in outcome.superseded
        ]
        echo_json(result_json)
    else:
        lines = [
            f"queued {len(outcome.items)} run(s) of {plan.branch} @ {plan.short} on W&B Launch "
            f"queue {plan.queue!r} ({outcome.entity}/{plan.project}, group {plan.group})",
            f"job   {outcome.job}",
        ]
        lines += [f"seed {i.seed}  item {i.id}  run {i.run_id}" for i in outcome.items]
        lines.append(f"queue {outcome.queue_url}")
        lines += [
            f"superseded  item {s.id}  ({plan.branch} @ {(s.commit or '?')[:7]}, seed {s.seed})"
            for s in outcome.superseded
        ]
        click.echo("\n".join(lines))
    _warn(outcome.warnings)


def _wandb_json(
    plan: dict[str, Any], job: str, warnings: tuple[str, ...], *, dry_run: bool
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "backend": "wandb",
        "dry_run": dry_run,
        **plan,
        "job": job,
        "items": [],
        "superseded": [],
        "warnings": list(warnings),
    }


def _render_plan(plan: WandbLaunchPlan) -> str:
    entry = " ".join([*plan.entrypoint, *plan.args])
    lines = [
        f"would queue {plan.seeds} run(s) of {plan.branch} @ {plan.short} on W&B Launch "
        "(dry run: nothing was contacted)",
        f"  commit        {plan.commit}",
        f"  remote        {plan.remote}",
        f"  job           {plan.job_ref()}",
        f"  entry point   {entry}",
        f"  python        {plan.python} (from {plan.python_source})",
        f"  requirements  {plan.requirements_path or 'none (an empty requirements file)'}",
        f"  queue         {plan.queue} (project {plan.entity or '<default entity>'}/"
        f"{plan.project}; supersede {'on' if plan.supersede else 'off'})",
    ]
    lines += [
        f"  seed {s}        run_config {json.dumps(plan.run_config(s))}" for s in range(plan.seeds)
    ]
    return "\n".join(lines)


def _warn(warnings: tuple[str, ...]) -> None:
    for line in warnings:
        click.echo(f"launch-job: warning: {line}", err=True)
