"""The W&B Launch launcher: a branch's pushed commit, queued on W&B Launch.

``launch_on_wandb`` takes a plan (wandb_plan.py) and checks the key, the project, the
queue and the budget; makes the git job for exactly that commit (wandb_job.py); queues one
item per seed, all or nothing; and, with ``launch.supersede``, deletes this branch's
still-pending items of older commits. The queue is read with W&B-shaped queries only
(wandb_queue.py). Never imports wandb at module import time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..budget import Spending, over_budget, queue_spending
from ..config import BudgetSettings, Settings
from ..errors import HarnessError, StoreError, UsageError
from ..launches import launch_lock
from ..stores.wandb import call_wandb, connect
from .local import LocalLauncher
from .wandb_job import HELPER_JOB_TYPE, make_job, new_wandb_run_id, require_job_builder
from .wandb_plan import WandbLaunchPlan, job_identity, normalize_remote, plan_wandb_launch
from .wandb_queue import LAUNCH_PROJECT, QueueReader
from .wandb_queue import queue_id as read_queue_id

__all__ = [
    "HELPER_JOB_TYPE",
    "QueuedItem",
    "SupersededItem",
    "WandbLaunchOutcome",
    "WandbLaunchPlan",
    "WandbLauncher",
    "job_identity",
    "launch_on_wandb",
    "normalize_remote",
    "plan_wandb_launch",
    "require_job_builder",
]


@dataclass(frozen=True)
class QueuedItem:
    id: str  # the queue item's id
    seed: int
    url: str  # the queue's page in the W&B app
    run_id: str  # the W&B run the agent will start for it
    run_url: str


@dataclass(frozen=True)
class SupersededItem:
    id: str
    commit: str | None
    seed: int | None


@dataclass(frozen=True)
class WandbLaunchOutcome:
    plan: WandbLaunchPlan
    entity: str
    job: str
    queue_url: str
    items: tuple[QueuedItem, ...]
    superseded: tuple[SupersededItem, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def _require_project(api: Any, entity: str, project: str) -> None:
    try:
        api.project(project, entity=entity).id  # noqa: B018 - loads it, or says it is missing
    except ValueError as exc:
        if exc.__cause__ is None:  # wandb's "no such project", not a failed request
            raise UsageError(
                f"W&B: no project {entity}/{project} (create it in W&B, or set wandb.project "
                "or WANDB_PROJECT to an existing one)"
            ) from exc
        raise


def _app_url(api: Any) -> str:
    import wandb.util

    return (os.environ.get("WANDB_APP_URL") or "").rstrip("/") or wandb.util.api_to_app_url(
        str(api.settings["base_url"])
    )


def _enqueue(
    api: Any, plan: WandbLaunchPlan, entity: str, queue_url: str, app: str
) -> list[QueuedItem]:
    """One queue item per seed: all of them, or none.

    Each item names its W&B run id (``run_id`` in its run spec, the agent's WANDB_RUN_ID),
    so after a failure every item of this launch is found and deleted, even one that
    ``launch_add`` pushed before failing (it checks the job only after pushing).
    """
    from wandb.sdk.launch import launch_add

    run_ids = [new_wandb_run_id() for _ in range(plan.seeds)]
    queued: list[Any] = []
    for seed, run_id in enumerate(run_ids):
        try:
            queued.append(
                launch_add(
                    job=plan.job_ref(entity),
                    config={"overrides": plan.overrides(seed, run_id)},
                    entity=entity,
                    project=plan.project,
                    queue_name=plan.queue,
                    name=f"{plan.branch} s{seed}",
                    run_id=run_id,
                )
            )
        except BaseException as exc:
            _roll_back(api, plan, entity, queued, set(run_ids), seed, exc)
            raise  # _roll_back raises; a KeyboardInterrupt goes on as it is
    return [
        QueuedItem(
            str(item.id), seed, queue_url, run_id, f"{app}/{entity}/{plan.project}/runs/{run_id}"
        )
        for seed, (item, run_id) in enumerate(zip(queued, run_ids, strict=True))
    ]


def _roll_back(
    api: Any,
    plan: WandbLaunchPlan,
    entity: str,
    queued: list[Any],
    run_ids: set[str],
    seed: int,
    exc: BaseException,
) -> None:
    """Delete every item of this launch, then raise the one-line error that says so."""
    ids = [str(item.id) for item in queued]
    unsure = False
    try:  # an item pushed by the call that failed is found by its run id
        ids += [
            item.id
            for item in QueueReader(api, entity, plan.queue).items()
            if item.spec_run_id in run_ids and item.id not in ids
        ]
    except Exception:  # the queue cannot be read: the failed call's item may be there
        unsure = True
    left = []
    for item_id in ids:
        try:
            api.queued_run(
                entity, plan.project, plan.queue, item_id, project_queue=LAUNCH_PROJECT
            ).delete()
        except Exception:  # named in the error below
            left.append(item_id)
    if isinstance(exc, KeyboardInterrupt):
        return
    why = " ".join(str(exc).split())[:300] or type(exc).__name__
    failed = f"W&B: queuing seed {seed} of {plan.group} on {plan.queue!r} failed ({why})"
    if not ids and not unsure:
        raise StoreError(f"{failed}; nothing was queued") from exc
    if left:
        undone = f"items {', '.join(left)} are still queued: delete them in the queue's page"
    elif unsure:
        undone = f"deleted {len(ids)} item(s); check the queue for one of seed {seed}"
    else:
        undone = f"its {len(ids)} queued item(s) were deleted"
    raise HarnessError(f"{failed}; {undone}") from exc


def _supersede(
    api: Any, plan: WandbLaunchPlan, entity: str, new: set[str]
) -> tuple[list[SupersededItem], list[str]]:
    """Delete this branch's items of older commits that no agent has claimed yet."""
    done: list[SupersededItem] = []
    warnings: list[str] = []
    for item in QueueReader(api, entity, plan.queue).items():
        config = item.run_config
        if (
            item.id in new
            or item.state != "PENDING"
            or item.run_id
            or not item.in_project(entity, plan.project)
            or config.get("branch") != plan.branch
            or config.get("commit") == plan.commit
        ):
            continue
        queued = api.queued_run(
            entity, plan.project, plan.queue, item.id, project_queue=LAUNCH_PROJECT
        )
        try:
            queued.delete()
        except Exception as exc:
            warnings.append(f"could not delete superseded item {item.id}: {exc}")
            continue
        seed = config.get("seed")
        commit = config.get("commit")
        done.append(
            SupersededItem(
                item.id,
                commit if isinstance(commit, str) else None,
                seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            )
        )
    return done, warnings


def _spent(settings: Settings, api: Any, entity: str, plan: WandbLaunchPlan) -> Spending:
    """What the project's harness runs and the queue's waiting items have spent."""
    from ..stores.wandb import WandbStore

    runs = WandbStore(settings).runs()
    waiting = []
    for item in QueueReader(api, entity, plan.queue).items():
        branch = item.run_config.get("branch")
        if item.waiting and item.in_project(entity, plan.project) and isinstance(branch, str):
            waiting.append(branch)
    return queue_spending(runs, waiting, plan.branch, timeout_s=plan.timeout_s)


def launch_on_wandb(
    settings: Settings,
    plan: WandbLaunchPlan,
    *,
    output: Callable[[str], None] | None = None,
    budget: BudgetSettings | None = None,
) -> WandbLaunchOutcome:
    """Queue ``plan`` on W&B Launch. Nothing is queued unless every seed is, and nothing
    at all when the launch could pass ``budget`` (checked and queued under this machine's
    launch lock, so two launches from here cannot both slip through)."""
    limited = budget is not None and budget.limited
    with launch_lock(settings.home) if limited else contextlib.nullcontext():
        return _launch_on_wandb(settings, plan, output=output, budget=budget)


def _launch_on_wandb(
    settings: Settings,
    plan: WandbLaunchPlan,
    *,
    output: Callable[[str], None] | None,
    budget: BudgetSettings | None,
) -> WandbLaunchOutcome:
    say = output or (lambda line: None)
    require_job_builder()
    # connect() reads the key's default entity outside its own error handling.
    api, entity = call_wandb("read the API key's default entity", lambda: connect(settings))
    if settings.wandb.base_url:  # launch_add makes its own clients from the environment
        os.environ["WANDB_BASE_URL"] = settings.wandb.base_url
    path = f"{entity}/{plan.project}"
    call_wandb(f"read project {path}", lambda: _require_project(api, entity, plan.project))
    queue_id = call_wandb(
        f"read W&B Launch queue {plan.queue!r}", lambda: read_queue_id(api, entity, plan.queue)
    )
    app = _app_url(api)
    if queue_id is None:
        raise UsageError(
            f"W&B: no Launch queue {plan.queue!r} in entity {entity} (create it at "
            f"{app}/launch, or set launch.queue / HARNESS_LAUNCH_QUEUE)"
        )
    url = f"{app}/{entity}/launch/{queue_id}"
    if budget is not None and budget.limited:
        spent = call_wandb(
            f"read what {plan.branch} has spent", lambda: _spent(settings, api, entity, plan)
        )
        problems = over_budget(
            budget, spent, seeds=plan.seeds, timeout_s=plan.timeout_s, at_once=plan.seeds
        )
        if problems:
            raise UsageError(f"{plan.branch}: over budget, nothing queued: {'; '.join(problems)}")
    say(f"making job {plan.job_ref(entity)} ({plan.remote} @ {plan.short})")
    job = make_job(settings, plan, entity)
    say(f"queuing {plan.seeds} run(s) of {plan.group} on {plan.queue!r}")
    items = _enqueue(api, plan, entity, url, app)
    superseded: list[SupersededItem] = []
    warnings = list(plan.warnings)
    if plan.supersede:
        try:
            superseded, more = call_wandb(
                f"read W&B Launch queue {plan.queue!r}",
                lambda: _supersede(api, plan, entity, {i.id for i in items}),
            )
            warnings += more
        except HarnessError as exc:  # the new items stay queued: superseding is a cleanup
            warnings.append(f"superseding skipped: {exc}")
    return WandbLaunchOutcome(
        plan, entity, job, url, tuple(items), tuple(superseded), tuple(warnings)
    )


class WandbLauncher:
    """The Launcher of the wandb backend: a branch's runs are queued on W&B Launch, and
    started by its agents; nothing runs here. ``plan`` fixes the launch without contacting
    W&B (``launch-job --dry-run`` stops there); ``queue`` queues it."""

    def __init__(
        self, settings: Settings, *, repo: Path, output: Callable[[str], None] | None = None
    ) -> None:
        self.settings, self.repo, self.output = settings, repo, output

    def branch_settings(self, branch: str, commit: str) -> Settings:
        """The branch's own settings at ``commit`` (its harness.yaml), as a run reads them."""
        return LocalLauncher(self.settings, repo=self.repo).branch_settings(branch, commit)

    def plan(self, branch: str, *, seeds: int | None = None) -> WandbLaunchPlan:
        return plan_wandb_launch(self.settings, branch, repo=self.repo, seeds=seeds)

    def queue(
        self, plan: WandbLaunchPlan, *, budget: BudgetSettings | None = None
    ) -> WandbLaunchOutcome:
        return launch_on_wandb(self.settings, plan, output=self.output, budget=budget)
