"""Training-side tracking: one call to start a W&B run that the harness can find again.

A training script does::

    from harness import tracking
    run = tracking.init(config={"lr": lr, "hidden": hidden, "seed": seed})
    cfg = run.config                     # the launcher's seed wins over the script's
    ...
    run.log({"train/loss": loss}, step=step)
    ...
    run.finish()                         # or use ``with tracking.init(...) as run:``

The run identity (id, branch, commit, seed, store) comes from the launcher's environment
(``HARNESS_RUN_ID``, ``HARNESS_RUN_DIR``, ``HARNESS_HOME``, ``HARNESS_BRANCH``,
``HARNESS_COMMIT``, ``HARNESS_SEED``), never from the working directory, which the local
launcher deletes after the run. Started by hand, branch and commit are read from git and the
run is recorded in the repository's store. With the ``local`` backend W&B always runs
offline, whatever ``WANDB_API_KEY`` says, and keeps every file inside the run's folder.

wandb is imported by ``init``, never at module import.
"""

from __future__ import annotations

import atexit
import math
import os
import secrets
import string
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from .config import Settings, load_settings
from .git import Git
from .manifest import CURVES_FILE, CurveBuffer, now_iso, update_manifest, write_json_atomic
from .runs import MetricSpec

__all__ = ["RunIdentity", "Tracker", "init", "new_run_id"]

MANIFEST_EVERY_S = 15.0  # how often a live run refreshes its manifest and curves
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    """A W&B-compatible run id: 8 characters of [a-z0-9]."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class RunIdentity:
    run_id: str
    run_dir: Path | None  # None with the wandb backend: no local store
    branch: str
    commit: str | None
    seed: int | None
    launched: bool  # True when a launcher created the run and owns its final state

    @property
    def group(self) -> str:
        return f"{self.branch}@{(self.commit or 'nocommit')[:7]}"


def _identity(settings: Settings, env: Mapping[str, str]) -> RunIdentity:
    seed_text = env.get("HARNESS_SEED")
    seed = int(seed_text) if seed_text and seed_text.lstrip("-").isdigit() else None
    if env.get("HARNESS_RUN_ID"):
        run_id = env["HARNESS_RUN_ID"]
        run_dir = Path(env["HARNESS_RUN_DIR"]) if env.get("HARNESS_RUN_DIR") else None
        if run_dir is None and settings.backend == "local":
            run_dir = settings.home / "runs" / run_id
        return RunIdentity(
            run_id=run_id,
            run_dir=run_dir,
            branch=env.get("HARNESS_BRANCH") or "unknown",
            commit=env.get("HARNESS_COMMIT") or None,
            seed=seed,
            launched=True,
        )
    git = Git(Path.cwd())
    run_id = env.get("WANDB_RUN_ID") or new_run_id()
    return RunIdentity(
        run_id=run_id,
        run_dir=settings.home / "runs" / run_id if settings.backend == "local" else None,
        branch=env.get("HARNESS_BRANCH") or git.current_branch() or "detached",
        commit=env.get("HARNESS_COMMIT") or git.head_commit(),
        seed=seed,
        launched=False,
    )


def _offline_environment(run_dir: Path) -> None:
    """Make W&B run offline with every write inside ``run_dir`` (see FACTS)."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_ERROR_REPORTING"] = "false"
    os.environ.setdefault("WANDB_SILENT", "true")
    for name, sub in (
        ("WANDB_DIR", ""),
        ("WANDB_DATA_DIR", "wandb-data"),
        ("WANDB_CACHE_DIR", "wandb-cache"),
        ("WANDB_CONFIG_DIR", "wandb-config"),
    ):
        path = run_dir / sub if sub else run_dir
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)


class Tracker:
    """A live run: logs to W&B and keeps the local manifest and curves up to date."""

    def __init__(
        self,
        settings: Settings,
        identity: RunIdentity,
        config: dict[str, Any],
        wandb_run: Any,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.config = config
        self._wandb_run = wandb_run
        self._metrics: dict[str, MetricSpec] = {m.name: m for m in settings.metrics}
        self._curves: dict[str, CurveBuffer] = {name: CurveBuffer() for name in self._metrics}
        self._summary: dict[str, Any] = {}
        self._last_write = time.monotonic()
        self._step = 0
        self.finished = False

    @property
    def id(self) -> str:
        return self.identity.run_id

    @property
    def run_dir(self) -> Path | None:
        return self.identity.run_dir

    def log(self, metrics: Mapping[str, Any], *, step: int | None = None) -> None:
        """Log scalar metrics at ``step`` (default: one past the previous step)."""
        step = self._step if step is None else int(step)
        self._step = step + 1
        self._wandb_run.log(dict(metrics), step=step)
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            number = float(value)
            spec = self._metrics.get(key)
            if spec is None:
                self._summary[key] = number
                continue
            self._curves[key].add(step, number)
            previous = self._summary.get(key, {})
            entry: dict[str, float] = {"last": number}
            best_key = "max" if spec.goal == "maximize" else "min"
            best = previous.get(best_key)
            if math.isfinite(number):
                entry[best_key] = number if best is None else spec.best([best, number])
            elif best is not None:
                entry[best_key] = best
            self._summary[key] = entry
        if time.monotonic() - self._last_write > MANIFEST_EVERY_S:
            self._write_local()

    def _write_local(self, **extra: Any) -> None:
        run_dir = self.identity.run_dir
        if run_dir is None:
            return
        curves = {name: buf.snapshot() for name, buf in self._curves.items() if buf.seen}
        write_json_atomic(run_dir / CURVES_FILE, curves, indent=None)
        update_manifest(run_dir, config=self.config, summary=self._summary, **extra)
        self._last_write = time.monotonic()

    def finish(self, *, exit_code: int = 0, reason: str | None = None) -> None:
        """End the run: W&B records the exit code; the manifest gets summary and state."""
        if self.finished:
            return
        self.finished = True
        self._wandb_run.finish(exit_code=exit_code)
        extra: dict[str, Any] = {"wandb_run_dir": self._wandb_dir()}
        if not self.identity.launched:  # a launcher, when there is one, owns the final state
            extra.update(
                state="finished" if exit_code == 0 else "failed",
                exit_code=exit_code,
                reason=reason,
                ended_at=now_iso(),
            )
        self._write_local(**extra)

    def _wandb_dir(self) -> str | None:
        run_dir = self.identity.run_dir
        wandb_dir = getattr(self._wandb_run, "dir", None)
        if run_dir is None or not wandb_dir:
            return None
        try:  # wandb's run.dir is <run folder>/files
            return str(Path(wandb_dir).parent.relative_to(run_dir))
        except ValueError:
            return None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        code, reason = _exit_status(exc)
        self.finish(exit_code=code, reason=reason)


def _exit_status(exc: BaseException | None) -> tuple[int, str | None]:
    """The exit code and reason a run ends with when ``exc`` escapes the script."""
    if exc is None:
        return 0, None
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        return code, None if code == 0 else f"exit code {code}"
    return 1, f"{type(exc).__name__}: {exc}"[:500]


def init(
    config: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    tags: tuple[str, ...] = (),
) -> Tracker:
    """Start the run: W&B run + local manifest. ``config`` holds the hyperparameters."""
    settings = load_settings()
    identity = _identity(settings, os.environ)
    merged: dict[str, Any] = dict(config or {})
    if identity.seed is not None:
        merged["seed"] = identity.seed
    identity = RunIdentity(
        run_id=identity.run_id,
        run_dir=identity.run_dir,
        branch=identity.branch,
        commit=identity.commit,
        seed=merged.get("seed") if isinstance(merged.get("seed"), int) else identity.seed,
        launched=identity.launched,
    )
    merged.update(branch=identity.branch, commit=identity.commit, group=identity.group)

    if identity.run_dir is not None:
        _offline_environment(identity.run_dir)
        if not identity.launched:
            update_manifest(
                identity.run_dir,
                name=name or f"{identity.branch} s{identity.seed or 0}",
                branch=identity.branch,
                commit=identity.commit,
                seed=identity.seed,
                group=identity.group,
                state="running",
                created_at=now_iso(),
            )
    if identity.commit:
        os.environ.setdefault("WANDB_GIT_COMMIT", identity.commit)

    import wandb  # the one place the tracking side pays for it

    wandb_run = wandb.init(
        project=settings.wandb.project,
        entity=settings.wandb.entity,
        id=identity.run_id,
        name=name or f"{identity.branch} s{identity.seed or 0}",
        group=identity.group,
        job_type="train",
        tags=list(tags),
        config=merged,
        dir=str(identity.run_dir) if identity.run_dir else None,
    )
    for spec in settings.metrics:
        best = "max" if spec.goal == "maximize" else "min"
        wandb_run.define_metric(spec.name, summary=f"{best},last")
    tracker = Tracker(settings, identity, dict(wandb_run.config), wandb_run)
    tracker._write_local()
    _finish_at_exit(tracker)
    if identity.run_dir is not None:
        print(f"harness: W&B offline run {identity.run_id} in {identity.run_dir}", flush=True)
    return tracker


def _finish_at_exit(tracker: Tracker) -> None:
    """Finish a run the script forgot to finish, marking it failed if an exception escaped."""
    previous_hook = sys.excepthook
    escaped: list[BaseException] = []

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        escaped.append(exc)
        previous_hook(exc_type, exc, tb)

    def at_exit() -> None:
        if tracker.finished:
            return
        code, reason = _exit_status(escaped[-1] if escaped else None)
        tracker.finish(exit_code=code, reason=reason)

    original_exit = sys.exit

    def exit_hook(status: str | int | None = None) -> NoReturn:
        escaped.append(SystemExit(status))  # sys.exit never reaches excepthook
        original_exit(status)

    sys.excepthook = hook
    sys.exit = exit_hook
    atexit.register(at_exit)
