"""Training-side tracking: everything a reviewer needs, from a few calls in the script.

A training script does::

    from harness import tracking

    run = tracking.init(config=config)            # W&B run; offline with the local backend
    cfg = run.config                              # the launcher's seed replaces the script's
    run.use_dataset("digits", {"x": x, "y": y})   # dataset artifact; digest in the config
    run.watch(model, optimizer)                   # gradient norms and learning rates
    for batch in ...:
        ...
        loss.backward(); optimizer.step()
        run.step(loss, batch_size=len(batch))     # every log_every steps: loss, diagnostics
    is_best = run.log_validation({"val/accuracy": acc, "val/loss": val_loss})
    run.save_checkpoint(model.state_dict(), aliases=["latest", "best"])
    run.log_predictions(images, predicted, labels)
    run.finish()                                  # or ``with tracking.init(...) as run:``

``init`` records branch, commit, seed and group in ``wandb.config`` with the
hyperparameters. Under the local launcher the run identity and the store come from the
environment (see ``identity.py``); started by hand, branch and commit are read from git. A
torchrun rank other than 0, or ``HARNESS_TRACKING=off``, gets a NoopTracker that takes the
same calls. wandb is imported by ``init``, never at module import.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any, NoReturn

from ..config import Settings, load_settings
from ..liveness import this_process
from ..manifest import new_run_id, now_iso, update_manifest
from .identity import RunIdentity, offline_environment, resolve_identity, tracking_disabled
from .run import NonFiniteLoss, NoopTracker, Tracker, exit_status

__all__ = ["NonFiniteLoss", "NoopTracker", "RunIdentity", "Tracker", "init", "new_run_id"]


def init(
    config: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    tags: tuple[str, ...] = (),
    log_every: int | None = None,
    settings: Settings | None = None,
) -> Tracker | NoopTracker:
    """Start the run. ``config`` holds the hyperparameters; ``log_every`` overrides the
    ``tracking.log_every`` setting (steps between train-metric and diagnostics logs)."""
    settings = settings or load_settings()
    merged: dict[str, Any] = dict(config or {})
    seed_text = os.environ.get("HARNESS_SEED", "")
    if seed_text.lstrip("-").isdigit():
        merged["seed"] = int(seed_text)
    disabled = tracking_disabled(os.environ)
    if disabled:
        return NoopTracker(settings, merged, reason=disabled)

    found = resolve_identity(settings, os.environ)
    seed = merged.get("seed") if isinstance(merged.get("seed"), int) else found.seed
    identity = RunIdentity(
        found.run_id, found.run_dir, found.branch, found.commit, seed, found.launched
    )
    merged.update(branch=identity.branch, commit=identity.commit, group=identity.group)
    display = name or f"{identity.branch} s{identity.seed or 0}"

    if identity.run_dir is not None:
        offline_environment(identity.run_dir)
        if not identity.launched:
            update_manifest(
                identity.run_dir,
                name=display,
                branch=identity.branch,
                commit=identity.commit,
                seed=identity.seed,
                group=identity.group,
                state="running",
                created_at=now_iso(),
                owner=this_process(),  # killed before it ends: read as crashed
            )
    if identity.commit:
        os.environ.setdefault("WANDB_GIT_COMMIT", identity.commit)
    # W&B's default console capture hands every line to its service as it is written
    # (about 0.4 ms a print); the emulated mode batches lines and renders \r progress bars.
    os.environ.setdefault("WANDB_CONSOLE", "wrap_emu")

    import wandb  # the one place the tracking side pays for it

    wandb_run = wandb.init(
        project=settings.wandb.project,
        entity=settings.wandb.entity,
        id=identity.run_id,
        name=display,
        group=identity.group,
        job_type="train",
        tags=list(tags),
        config=merged,
        dir=str(identity.run_dir) if identity.run_dir else None,
    )
    for spec in settings.metrics:  # the summary keeps final and best: {"last": …, "max": …}
        best = "max" if spec.goal == "maximize" else "min"
        wandb_run.define_metric(spec.name, summary=f"{best},last")
    tracker = Tracker(
        settings,
        identity,
        dict(wandb_run.config),
        wandb_run,
        log_every=log_every or settings.tracking.log_every,
    )
    tracker._write_local()
    _finish_at_exit(tracker)
    if identity.run_dir is not None:
        print(f"harness: W&B offline run {identity.run_id} in {identity.run_dir}", flush=True)
    return tracker


def _finish_at_exit(tracker: Tracker) -> None:
    """Finish a run the script forgot to finish, recording how the script ended."""
    previous_hook = sys.excepthook
    escaped: list[BaseException] = []

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        escaped.append(exc)
        previous_hook(exc_type, exc, tb)

    original_exit = sys.exit

    def exit_hook(status: str | int | None = None) -> NoReturn:
        escaped.append(SystemExit(status))  # sys.exit never reaches excepthook
        original_exit(status)

    def at_exit() -> None:
        if not tracker.finished:
            code, reason = exit_status(escaped[-1] if escaped else None)
            tracker.finish(exit_code=code, reason=reason)

    sys.excepthook = hook
    sys.exit = exit_hook
    atexit.register(at_exit)
