"""The W&B Launch launcher: a branch's pushed commit, queued on W&B Launch.

``plan_wandb_launch`` (pure, plus git on the local checkout) fixes everything before W&B is
contacted: the commit, the ``origin`` remote as an https URL, the branch's own entry point
and args (its harness.yaml at that commit), the Python version, the requirements, and the
job's identity. ``launch_on_wandb`` then checks the key, the project and the queue; makes a
git job for exactly that commit; queues one item per seed (all or nothing); and, with
``launch.supersede``, deletes this branch's still-pending items of older commits.

The job is collection ``harness-<slug>`` at alias ``<slug>-<sha7>`` (slug: the branch with
every run of characters outside ``[A-Za-z0-9._-]`` turned into ``-``): one job version per
pushed commit, never moved to another one. Its ``run_config`` carries the exact branch.

Never imports wandb at module import time; the job is built in a child process
(``python -m harness.launchers.wandb``) because it needs a ``wandb.init``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..budget import Spending, over_budget, queue_spending
from ..config import MODULE_FLAGS, BudgetSettings, Settings
from ..errors import BranchError, HarnessError, StoreError, UsageError
from ..git import Git, validate_branch
from ..launches import launch_lock
from ..stores.wandb import call_wandb, connect
from .command import RunValues, fill_placeholders
from .local import LocalLauncher
from .wandb_queue import LAUNCH_PROJECT, QueueReader
from .wandb_queue import queue_id as read_queue_id

__all__ = [
    "QueuedItem",
    "SupersededItem",
    "WandbLaunchOutcome",
    "WandbLaunchPlan",
    "job_identity",
    "launch_on_wandb",
    "normalize_remote",
    "plan_wandb_launch",
    "require_job_builder",
]

HELPER_JOB_TYPE = "harness-create-job"  # the hidden run that logs the job (then deleted)
MAX_REQUIREMENTS_BYTES = 256 * 1024
JOB_TIMEOUT_S = 300.0
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_SCP = re.compile(r"^(?:[A-Za-z0-9._~-]+@)?([A-Za-z0-9.-]+):(?!/)(.+)$")  # git@host:o/r.git
_PYTHON = re.compile(r"(?<!\d)3\.(\d{1,2})(?!\d)")
# Variables that shape a wandb run: the hidden helper run must not inherit them (a launched
# run's WANDB_CONFIG would give it a branch; WANDB_RUN_ID would make it someone's run).
_KEPT_WANDB = {
    "WANDB_API_KEY",
    "WANDB_BASE_URL",
    "WANDB_APP_URL",
    "WANDB_CONFIG_DIR",
    "WANDB_ERROR_REPORTING",
    "WANDB_HTTP_TIMEOUT",
    "WANDB_INIT_TIMEOUT",
    "WANDB_IDENTITY_TOKEN_FILE",
    "WANDB_CREDENTIALS_FILE",
    "WANDB_INSECURE_DISABLE_SSL",
    "WANDB_DEBUG",
    "WANDB_CORE_DEBUG",
}


@dataclass(frozen=True)
class WandbLaunchPlan:
    """Everything a W&B launch of one branch's commit needs; nothing contacted yet."""

    branch: str
    commit: str
    remote: str  # https URL the agent clones
    entry_point: str
    args: tuple[str, ...]  # with placeholders: filled per queued run
    python: str  # major.minor
    python_source: str  # runtime.txt, .python-version or "this interpreter"
    requirements_path: str | None  # at the commit; None: an empty requirements file
    requirements: str
    entity: str | None  # None: the API key's default entity, known once W&B is contacted
    project: str
    queue: str
    seeds: int
    supersede: bool
    warnings: tuple[str, ...] = ()
    command: tuple[str, ...] = ("python",)  # launch.command: what the agent runs it under
    timeout_s: float | None = None  # launch.timeout: the per-run bound an hours budget needs

    @property
    def short(self) -> str:
        return self.commit[:7]

    @property
    def group(self) -> str:
        return f"{self.branch}@{self.short}"

    @property
    def job_name(self) -> str:
        return job_identity(self.branch, self.commit)[0]

    @property
    def job_alias(self) -> str:
        return job_identity(self.branch, self.commit)[1]

    @property
    def entrypoint(self) -> list[str]:
        return [*self.command, self.entry_point]

    def job_ref(self, entity: str | None = None) -> str:
        who = entity or self.entity or "<default entity>"
        return f"{who}/{self.project}/{self.job_name}:{self.job_alias}"

    def run_config(self, seed: int) -> dict[str, Any]:
        """What the agent hands the run as WANDB_CONFIG (merged into wandb.config)."""
        return {"branch": self.branch, "commit": self.commit, "seed": seed, "group": self.group}

    def overrides(self, seed: int, run_id: str) -> dict[str, Any]:
        values = RunValues(seed=seed, branch=self.branch, commit=self.commit, run_id=run_id)
        return {"run_config": self.run_config(seed), "args": fill_placeholders(self.args, values)}

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "commit": self.commit,
            "group": self.group,
            "remote": self.remote,
            "entry_point": self.entry_point,
            "args": list(self.args),
            "python": self.python,
            "requirements": self.requirements_path,
            "entity": self.entity,
            "project": self.project,
            "queue": self.queue,
            "job": self.job_ref(),
        }


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


# -- the plan: pure, plus git ----------------------------------------------------------------
def job_identity(branch: str, commit: str) -> tuple[str, str]:
    """The job's collection and alias: letters, digits, '.', '_' and '-' only."""
    slug = _SLUG.sub("-", branch).strip("-.")[:100] or "branch"
    return f"harness-{slug}", f"{slug}-{commit[:7]}"


def normalize_remote(url: str) -> str:
    """An https URL the agent can clone, from what ``git remote get-url origin`` says.

    ``git@github.com:o/r.git`` and ``ssh://git@github.com/o/r.git`` become
    ``https://github.com/o/r.git``; credentials in an http(s) URL are dropped (the job
    would publish them). Anything else (a path, ``file://``) is a UsageError.
    """
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if "://" in text:
        host = parts.hostname
        if scheme in ("http", "https", "ssh", "git+ssh", "ssh+git") and host and parts.path:
            if scheme in ("http", "https"):
                netloc = host if parts.port is None else f"{host}:{parts.port}"
                return urlunsplit((scheme, netloc, parts.path, "", ""))
            return urlunsplit(("https", host, parts.path, "", ""))
    else:
        scp = _SCP.match(text)
        if scp:
            return f"https://{scp.group(1)}/{scp.group(2).lstrip('/')}"
    raise UsageError(
        f"git remote 'origin' is {text!r}: W&B Launch agents clone an http(s) or ssh "
        "remote (e.g. https://github.com/owner/repo.git)"
    )


def _show(git: Git, commit: str, path: str, where: str) -> str | None:
    try:
        return git.show(commit, path)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} at {where}: not UTF-8 text") from exc


def _python_version(git: Git, commit: str, where: str) -> tuple[str, str]:
    # wandb's own order (``wandb job create git`` reads runtime.txt, then .python-version).
    for name in ("runtime.txt", ".python-version"):
        text = _show(git, commit, name, where)
        if text is None:
            continue
        line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        found = _PYTHON.search(line)
        if not found:
            raise UsageError(f"{name} at {where}: no Python version like 3.11 in {line[:60]!r}")
        return f"3.{found.group(1)}", name
    return f"{sys.version_info.major}.{sys.version_info.minor}", "this interpreter"


def _requirements(git: Git, commit: str, entry: str, where: str) -> tuple[str | None, str]:
    """The requirements.txt next to the entry point, else at the root, else none."""
    here = PurePosixPath(entry).parent / "requirements.txt"
    for path in dict.fromkeys([str(here), "requirements.txt"]):
        text = _show(git, commit, path, where)
        if text is not None:
            if len(text.encode()) > MAX_REQUIREMENTS_BYTES:
                raise UsageError(f"{path} at {where}: larger than {MAX_REQUIREMENTS_BYTES} bytes")
            return path, text
    return None, ""


def plan_wandb_launch(
    settings: Settings, branch: str, *, repo: Path, seeds: int | None = None
) -> WandbLaunchPlan:
    """The launch of ``branch``'s newest commit, from the checkout at ``repo``.

    W&B's entity, project, queue and ``supersede`` come from ``settings`` (this checkout's
    harness.yaml and the environment); entry point, args and seeds from the branch's own
    harness.yaml at the commit, as the local launcher reads them.
    """
    validate_branch(branch)
    queue = settings.launch.queue
    if not queue:
        raise UsageError(
            "no W&B Launch queue: set launch.queue in harness.yaml or HARNESS_LAUNCH_QUEUE"
        )
    git = Git(repo)
    origin = git.run("remote", "get-url", "origin", check=False)
    if not origin:
        raise UsageError(
            f"{repo} has no git remote 'origin': W&B Launch agents clone the branch from it"
        )
    remote = normalize_remote(origin)
    commit = git.resolve_branch(branch)
    where = f"{branch}@{commit[:7]}"
    own = LocalLauncher(settings, repo=repo).branch_settings(branch, commit)
    entry = own.launch.entry_point
    module = own.launch.command[-1] in MODULE_FLAGS
    if not module and git.run("cat-file", "-t", f"{commit}:{entry}", check=False) != "blob":
        raise BranchError(f"launch.entry_point {entry!r} does not exist at {where}")
    python, python_source = _python_version(git, commit, where)
    requirements_path, requirements = _requirements(git, commit, entry, where)
    warnings = []
    if not git.run("branch", "--remotes", "--contains", commit, check=False):
        warnings.append(
            f"{where} is on no branch of origin this checkout knows of: push it, or the "
            "agent cannot check it out"
        )
    return WandbLaunchPlan(
        branch=branch,
        commit=commit,
        remote=remote,
        entry_point=entry,
        args=own.launch.args,
        python=python,
        python_source=python_source,
        requirements_path=requirements_path,
        requirements=requirements,
        entity=settings.wandb.entity,
        project=settings.wandb.project,
        queue=queue,
        seeds=seeds or own.launch.seeds,
        supersede=settings.launch.supersede,
        warnings=tuple(warnings),
        command=own.launch.command,
        timeout_s=own.launch.timeout_s,
    )


# -- W&B: checks, the job, the queue ------------------------------------------------------
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


def _child_env(settings: Settings, workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WANDB_") or k in _KEPT_WANDB or k.startswith("WANDB__")
    }
    if settings.wandb.base_url:
        env["WANDB_BASE_URL"] = settings.wandb.base_url
    env.update(
        WANDB_MODE="online",
        WANDB_SILENT="true",
        WANDB_CONSOLE="off",
        WANDB_DISABLE_GIT="true",
        WANDB_DISABLE_CODE="true",
        WANDB_DIR=str(workdir),
        WANDB_DATA_DIR=str(workdir / "data"),
        WANDB_CACHE_DIR=str(workdir / "cache"),
    )
    return env


def _make_job(settings: Settings, plan: WandbLaunchPlan, entity: str) -> str:
    """Make the git job of ``plan`` in ``entity/project``; returns its reference.

    A child process does it (``_build_job``): its ``wandb.init`` must not touch this
    process's wandb state, console or atexit hooks. Errors are one line (exit 2).
    """
    spec = {
        "entity": entity,
        "project": plan.project,
        "name": plan.job_name,
        "aliases": [plan.job_alias, "latest"],
        "description": (
            f"harness: {plan.branch} @ {plan.short} ({plan.remote}, {' '.join(plan.entrypoint)})"
        ),
        "remote": plan.remote,
        "commit": plan.commit,
        "entrypoint": plan.entrypoint,
        "python": plan.python,
        "requirements": plan.requirements,
    }
    with tempfile.TemporaryDirectory(prefix="harness-job-") as tmp:
        workdir = Path(tmp)
        (workdir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", __name__, str(workdir)],
                cwd=workdir,
                env=_child_env(settings, workdir),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=JOB_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StoreError(
                f"W&B: making job {plan.job_ref(entity)} took over {JOB_TIMEOUT_S:.0f}s"
            ) from exc
        result_path = workdir / "result.json"
        result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if done.returncode != 0 or "job" not in result:
        detail = result.get("error") or _last_line(done.stderr) or f"exit code {done.returncode}"
        raise StoreError(f"W&B: cannot make job {plan.job_ref(entity)}: {detail}")
    return str(result["job"])


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


# The job is built with wandb internals (see _build_job), checked against these releases.
JOB_BUILDER_WANDB = ((0, 31), (0, 31))  # lowest and highest (major, minor) tested


def require_job_builder(version: str | None = None) -> None:
    """A one-line UsageError unless this wandb is one the Launch job builder was tested on:
    it uses wandb internals that change between releases. Training may use any supported
    wandb; only the machine that queues jobs needs this one."""
    if version is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            version = installed("wandb")
        except PackageNotFoundError:
            version = "none"
    parts = re.match(r"^(\d+)\.(\d+)", version)
    found = (int(parts.group(1)), int(parts.group(2))) if parts else None
    low, high = JOB_BUILDER_WANDB
    if found is None or not low <= found <= high:
        span = ".".join(map(str, low)) + ("" if low == high else " to " + ".".join(map(str, high)))
        raise UsageError(
            f"launch-job --backend wandb builds Launch jobs with wandb {span}.x internals;"
            f" this environment has wandb {version} (install the constraints.txt pins)"
        )


def _new_run_id() -> str:
    """A W&B run id (8 of [a-z0-9], as wandb makes them)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _enqueue(
    api: Any, plan: WandbLaunchPlan, entity: str, queue_url: str, app: str
) -> list[QueuedItem]:
    """One queue item per seed: all of them, or none.

    Each item names its W&B run id (``run_id`` in its run spec, the agent's WANDB_RUN_ID),
    so after a failure every item of this launch is found and deleted, even one that
    ``launch_add`` pushed before failing (it checks the job only after pushing).
    """
    from wandb.sdk.launch import launch_add

    run_ids = [_new_run_id() for _ in range(plan.seeds)]
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
        spec, config = item.spec, item.run_config
        if (
            item.id in new
            or item.state != "PENDING"
            or item.run_id
            or (spec.get("entity"), spec.get("project")) != (entity, plan.project)
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
        ours = (item.spec.get("entity"), item.spec.get("project")) == (entity, plan.project)
        if item.waiting and ours and isinstance(branch, str):
            waiting.append(branch)
    return queue_spending(runs, waiting, plan.branch)


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
    job = _make_job(settings, plan, entity)
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


# -- the child process that makes the job ----------------------------------------------------
def _build_job(spec: Mapping[str, Any], workdir: Path) -> dict[str, Any]:
    """Log the git job of ``spec`` as ``wandb job create git`` does, without cloning.

    Why wandb's internals: ``wandb job create git`` (``wandb.sdk.launch.create_job``)
    clones the remote only to read the commit, the Python version and the entry point,
    which the plan already took from the local checkout (and which CI and tests cannot
    fetch). Every other step is wandb's own, as in ``create_job._create_job`` of the pinned
    wandb 0.31.0: a partial ``JobBuilder`` with a "repo" source builds the artifact
    (``wandb-job.json`` with git remote + commit, entrypoint, runtime; the requirements as
    ``requirements.frozen.txt``), ``create_artifact_version`` makes the version with its
    aliases and the ``_partial`` marker, a hidden run logs it, and that run is deleted.
    ``wandb.Artifact(type="job")`` is refused by the public API, and a run's own job
    would carry this environment's ``pip freeze`` and the helper script as entry point.
    """
    import wandb
    from wandb.sdk.artifacts._generated.enums import ArtifactDigestAlgorithm
    from wandb.sdk.artifacts._gqlutils import create_artifact_version
    from wandb.sdk.internal.job_builder import JobBuilder

    entity, project, name = spec["entity"], spec["project"], spec["name"]
    files = workdir / "job"
    files.mkdir()
    metadata = {
        "git": {"remote": spec["remote"], "commit": spec["commit"]},
        "entrypoint": spec["entrypoint"],
        "python": spec["python"],
        "notebook": False,
    }
    (files / "wandb-metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    (files / "requirements.txt").write_text(spec["requirements"], encoding="utf-8")
    api = wandb.Api(overrides={"entity": entity, "project": project})
    run = wandb.init(
        id=_new_run_id(),
        resume="never",  # a fresh id: never someone's run, which is deleted below
        entity=entity,
        project=project,
        job_type=HELPER_JOB_TYPE,
        dir=str(workdir),
        settings=wandb.Settings(
            silent=True,
            console="off",
            disable_job_creation=True,  # the run's own job would be the wrong one
            disable_git=True,
            save_code=False,
            x_disable_stats=True,
            x_disable_meta=True,
            x_save_requirements=False,
        ),
    )
    aliases = list(spec["aliases"])
    try:
        builder = JobBuilder(
            settings=wandb.Settings(job_source="repo", job_name=name), files_dir=str(files)
        )
        builder._partial = True  # as create_job: metadata gives the entrypoint
        builder._is_notebook_run = False
        builder.set_config({})
        builder.set_summary({})
        artifact = builder.build(api)
        if artifact is None:
            raise RuntimeError("wandb's JobBuilder made no job from the metadata")
        create_artifact_version(
            api._service_api,
            artifact_type_name="job",
            artifact_collection_name=name,
            digest=artifact.digest,
            digest_algorithm=ArtifactDigestAlgorithm.MANIFEST_MD5,
            client_id=artifact._client_id,
            sequence_client_id=artifact._sequence_client_id,
            entity_name=entity,
            project_name=project,
            run_name=run.id,
            description=spec["description"],
            metadata={"_partial": True},
            aliases=[{"artifactCollectionName": name, "alias": a} for a in aliases],
        )
        run.log_artifact(artifact, aliases=aliases)
        artifact.wait()
    finally:
        run.finish()
        _delete_helper(api, f"{entity}/{project}/{run.id}")
    return {"job": f"{entity}/{project}/{name}:{aliases[0]}", "version": artifact.version}


def _delete_helper(api: Any, path: str) -> None:
    """Delete the hidden run, as wandb's create_job does: it is no experiment."""
    helper = api.run(path)
    if helper.job_type != HELPER_JOB_TYPE or "branch" in helper.config:  # never someone's run
        raise RuntimeError(f"run {path} is not the helper run; left as it is")
    helper.delete()


def _child_main(workdir: Path) -> int:
    spec = json.loads((workdir / "spec.json").read_text(encoding="utf-8"))
    try:
        result = _build_job(spec, workdir)
        code = 0
    except Exception as exc:  # the parent prints it as one line
        result, code = {"error": " ".join(str(exc).split())[:300] or type(exc).__name__}, 1
    (workdir / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
