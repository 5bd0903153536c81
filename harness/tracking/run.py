"""The run object a training script talks to: Tracker, and NoopTracker for ranks > 0.

Both accept the same calls, so a script never branches on whether it is tracked.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..config import Settings
from ..manifest import (
    CURVES_FILE,
    EXTRA_CURVES,
    TRACKED,
    CurveBuffer,
    now_iso,
    update_manifest,
    write_json_atomic,
)
from ..runs import MetricSpec
from .diagnostics import StepMeter, gpu_memory, grad_norms, learning_rates, param_groups, to_float
from .identity import RunIdentity
from .media import artifact_name, dataset_artifact, predictions_table, save_state

__all__ = ["NonFiniteLoss", "NoopTracker", "Tracker", "exit_status"]

MANIFEST_EVERY_S = 15.0  # how often a live run refreshes its manifest and curves
# Rows go to W&B in bursts: a lone wandb.log in a training loop costs ~1 ms here, a burst
# of them ~0.3 ms each (benchmarks/tracking_overhead.py). A row waits at most this long:
EMIT_AFTER_S = 5.0
EMIT_ROWS = 32
MAX_CHECKPOINTS_LISTED = 20


_M = TypeVar("_M", bound=Callable[..., Any])


def _timed(method: _M) -> _M:
    """Adds the time spent in a public Tracker call to ``overhead_s`` (outermost call only)."""

    @functools.wraps(method)
    def wrapper(self: Tracker, *args: Any, **kwargs: Any) -> Any:
        if self._in_call:
            return method(self, *args, **kwargs)
        self._in_call = True
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self.overhead_s += time.perf_counter() - start
            self._in_call = False

    return wrapper  # type: ignore[return-value]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or inf and ``tracking.stop_on_nonfinite`` is set."""


def exit_status(exc: BaseException | None) -> tuple[int, str | None]:
    """The exit code and reason a run ends with when ``exc`` escapes the script."""
    if exc is None:
        return 0, None
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        return code, None if code == 0 else f"exit code {code}"
    return 1, f"{type(exc).__name__}: {exc}"[:500]


class NoopTracker:
    """Takes every call and records nothing (torchrun ranks > 0, ``HARNESS_TRACKING=off``).

    It still counts steps and tells which validation was the best, so the script behaves
    the same on every rank.
    """

    def __init__(self, settings: Settings, config: dict[str, Any], reason: str = "") -> None:
        self.settings = settings
        self.config = config
        self.reason = reason
        self.global_step = 0
        self.finished = False
        # Seconds spent in tracking's logging work (logged steps, validation, media,
        # artifacts); the per-step bookkeeping, a list append, is not timed. 0 for the no-op.
        self.overhead_s = 0.0
        self._best: float | None = None

    @property
    def id(self) -> str | None:
        return None

    @property
    def run_dir(self) -> Path | None:
        return None

    def _improves(self, metrics: Mapping[str, Any]) -> bool:
        spec = self.settings.primary_metric
        if spec is None or spec.name not in metrics:
            return False
        value = to_float(metrics[spec.name])
        if not math.isfinite(value):
            return False
        if self._best is None or spec.improvement(value - self._best) > 0:
            self._best = value
            return True
        return False

    @property
    def will_log(self) -> bool:
        """True when the next ``step()`` logs: compute costly step metrics only then."""
        return False

    def watch(self, model: Any, optimizer: Any = None) -> None:
        """Take gradient norms from ``model`` and learning rates from ``optimizer``."""

    def step(
        self,
        loss: Any = None,
        *,
        batch_size: int | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        """Count one optimizer step; every ``log_every`` steps, log the window's metrics.

        ``loss`` (a tensor or number) is averaged over the window without a host sync;
        ``metrics`` are taken as they are at the logged steps (see ``will_log``).
        """
        self.global_step += 1

    def log(self, metrics: Mapping[str, Any], *, step: int | None = None) -> None:
        """Log metrics (numbers, tensors, or W&B media) at ``step`` (default: steps done)."""

    def log_validation(
        self, metrics: Mapping[str, Any], *, step: int | None = None, final: bool = False
    ) -> bool:
        """Log validation metrics; True when the primary metric is the best so far.

        ``final=True`` is the evaluation after training (e.g. of the best checkpoint): its
        values are logged and summarised as ``final/<name>``.
        """
        return False if final else self._improves(metrics)

    def log_predictions(
        self,
        inputs: Any,
        predictions: Any,
        targets: Any,
        *,
        step: int | None = None,
        confidences: Any = None,
        class_names: Sequence[str] | None = None,
        key: str = "predictions",
    ) -> None:
        """Log a table of sample predictions; image-like inputs show as images."""

    def save_checkpoint(
        self,
        state: Any,
        *,
        aliases: Sequence[str] = ("latest",),
        name: str = "model",
        metadata: Mapping[str, Any] | None = None,
    ) -> Path | None:
        """Save ``state`` (torch.save, or an existing file) as a model artifact version."""
        return None

    def use_dataset(
        self, name: str, data: Any, *, metadata: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Record the training data as a dataset artifact; its digest goes in the config."""
        return None

    def finish(self, *, exit_code: int = 0, reason: str | None = None) -> None:
        self.finished = True

    def __enter__(self) -> NoopTracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        code, reason = exit_status(exc)
        self.finish(exit_code=code, reason=reason)


class Tracker(NoopTracker):
    """A live W&B run that also keeps the local store's manifest and curves current."""

    def __init__(
        self,
        settings: Settings,
        identity: RunIdentity,
        config: dict[str, Any],
        wandb_run: Any,
        *,
        log_every: int,
    ) -> None:
        super().__init__(settings, config)
        self.identity = identity
        self.log_every = log_every
        self._wandb_run = wandb_run
        self._specs: dict[str, MetricSpec] = {m.name: m for m in settings.metrics}
        curve_keys = [*self._specs, *EXTRA_CURVES]
        self._curves: dict[str, CurveBuffer] = {name: CurveBuffer() for name in curve_keys}
        self._summary: dict[str, Any] = {}
        self._checkpoints: list[dict[str, Any]] = []
        self._saved = 0
        self._meter = StepMeter()
        self._model: Any = None
        self._optimizer: Any = None
        self._groups: dict[str, list[Any]] = {}
        self._nonfinite = 0
        self._pending: list[tuple[dict[str, Any], int]] = []
        self._pending_since = 0.0
        self._in_call = False
        self._last_write = time.monotonic()

    @property
    def id(self) -> str:
        return self.identity.run_id

    @property
    def run_dir(self) -> Path | None:
        return self.identity.run_dir

    @property
    def files_dir(self) -> Path:
        """Where checkpoints and dataset files are written: the run's folder."""
        if self.identity.run_dir is not None:
            return self.identity.run_dir
        return Path(self._wandb_run.dir).parent

    # metrics ------------------------------------------------------------------------------

    @property
    def will_log(self) -> bool:
        return (self.global_step + 1) % self.log_every == 0

    def watch(self, model: Any, optimizer: Any = None) -> None:
        self._model, self._optimizer = model, optimizer
        self._groups = param_groups(model.named_parameters())

    def step(
        self,
        loss: Any = None,
        *,
        batch_size: int | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> None:
        # Kept lean: it runs every step. Its logging work is timed in _flush.
        self.global_step += 1
        self._meter.add(loss, batch_size)
        if self.global_step % self.log_every == 0:
            self._flush(metrics)

    @_timed
    def _flush(self, metrics: Mapping[str, Any] | None) -> None:
        row, nonfinite = self._meter.flush()
        row.update({key: to_float(value) for key, value in (metrics or {}).items()})
        if self.settings.tracking.diagnostics:
            row.update(grad_norms(self._groups))
            if self._optimizer is not None:
                row.update(learning_rates(self._optimizer))
            row.update(gpu_memory(self._model))
        if nonfinite:
            self._nonfinite += nonfinite
            row["diagnostics/nonfinite_loss_steps"] = self._nonfinite
        self.log(row, step=self.global_step)
        if nonfinite and self.settings.tracking.stop_on_nonfinite:
            raise NonFiniteLoss(
                f"the loss was NaN or inf at {self._nonfinite} step(s), last seen by step "
                f"{self.global_step}; stopping because tracking.stop_on_nonfinite is set"
            )

    @_timed
    def log(self, metrics: Mapping[str, Any], *, step: int | None = None) -> None:
        step = self.global_step if step is None else int(step)
        values = {k: to_float(v) if _scalar(v) else v for k, v in metrics.items()}
        now = time.monotonic()
        if not self._pending:
            self._pending_since = now
        self._pending.append((values, step))
        if len(self._pending) >= EMIT_ROWS or now - self._pending_since >= EMIT_AFTER_S:
            self._emit()
        for key, value in values.items():
            if isinstance(value, float):
                self._remember(key, step, value)
        if now - self._last_write > MANIFEST_EVERY_S:
            self._write_local()

    def _emit(self) -> None:
        """Hand the waiting rows to W&B, in step order."""
        pending, self._pending = self._pending, []
        for values, step in pending:
            self._wandb_run.log(values, step=step)

    def _remember(self, key: str, step: int, value: float) -> None:
        curve = self._curves.get(key)
        if curve is not None:
            curve.add(step, value)
        spec = self._specs.get(key)
        if spec is None:
            self._summary[key] = value
            return
        best_key = "max" if spec.goal == "maximize" else "min"
        best = self._summary.get(key, {}).get(best_key)
        entry: dict[str, float] = {"last": value}
        if math.isfinite(value):
            entry[best_key] = value if best is None else spec.best([best, value])
        elif best is not None:
            entry[best_key] = best
        self._summary[key] = entry

    @_timed
    def log_validation(
        self, metrics: Mapping[str, Any], *, step: int | None = None, final: bool = False
    ) -> bool:
        self._meter.pause()
        values = {k: to_float(v) for k, v in metrics.items()}
        if final:
            values = {f"final/{k}": v for k, v in values.items()}
        self.log(values, step=step)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        when = (
            "after training" if final else f"at step {self.global_step if step is None else step}"
        )
        print(f"validation {when}: {shown}", flush=True)
        return False if final else self._improves(metrics)

    # media and artifacts ------------------------------------------------------------------

    @_timed
    def log_predictions(
        self,
        inputs: Any,
        predictions: Any,
        targets: Any,
        *,
        step: int | None = None,
        confidences: Any = None,
        class_names: Sequence[str] | None = None,
        key: str = "predictions",
    ) -> None:
        limit = self.settings.tracking.predictions
        self._meter.pause()
        if limit == 0:
            return
        table = predictions_table(
            inputs,
            predictions,
            targets,
            limit=limit,
            confidences=confidences,
            class_names=class_names,
        )
        self.log({key: table}, step=step)

    @_timed
    def save_checkpoint(
        self,
        state: Any,
        *,
        aliases: Sequence[str] = ("latest",),
        name: str = "model",
        metadata: Mapping[str, Any] | None = None,
    ) -> Path:
        import wandb

        self._meter.pause()
        safe = artifact_name(name)
        self._saved += 1  # each version gets its own file: artifacts reference it in place
        filename = f"{safe}-{self._saved:03d}-step{self.global_step}.pt"
        path = save_state(state, self.files_dir / "checkpoints" / filename)
        info = {
            "step": self.global_step,
            "branch": self.identity.branch,
            "commit": self.identity.commit,
        }
        artifact = wandb.Artifact(
            artifact_name(f"{safe}-{self.id}"), type="model", metadata={**info, **(metadata or {})}
        )
        artifact.add_file(str(path), policy="immutable")  # written once: no staging copy
        self._emit()
        self._wandb_run.log_artifact(artifact, aliases=list(aliases))
        self._checkpoints.append({"path": str(path), "aliases": list(aliases), **info})
        del self._checkpoints[:-MAX_CHECKPOINTS_LISTED]
        return path

    @_timed
    def use_dataset(
        self, name: str, data: Any, *, metadata: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        artifact, record = dataset_artifact(
            name, data, self.files_dir / "datasets" / artifact_name(name), metadata=metadata
        )
        self._emit()
        if self._wandb_run.offline:  # use_artifact is refused offline: log it, keep its digest
            self._wandb_run.log_artifact(artifact)
        else:
            self._wandb_run.use_artifact(artifact)
        datasets = dict(self.config.get("datasets") or {})
        datasets[record["name"]] = record
        self.config["datasets"] = datasets
        self._wandb_run.config.update({"datasets": datasets}, allow_val_change=True)
        return record

    # the end ------------------------------------------------------------------------------

    def _write_local(self, **extra: Any) -> None:
        run_dir = self.identity.run_dir
        if run_dir is None:
            return
        curves = {name: buf.snapshot() for name, buf in self._curves.items() if buf.seen}
        write_json_atomic(run_dir / CURVES_FILE, curves, indent=None)
        if self._checkpoints:
            extra["checkpoints"] = self._checkpoints
        update_manifest(
            run_dir, config=self.config, summary=self._summary, values_from=TRACKED, **extra
        )
        self._last_write = time.monotonic()

    def finish(self, *, exit_code: int = 0, reason: str | None = None) -> None:
        """End the run: W&B records the exit code; the manifest gets summary and state."""
        if self.finished:
            return
        self.finished = True
        if self._meter.steps:  # the last, partial window
            with contextlib.suppress(NonFiniteLoss):  # already ending; counted below
                self._flush(None)
        self._summary["diagnostics/nonfinite_loss_steps"] = self._nonfinite
        self._summary["perf/tracking_overhead_s"] = self.overhead_s
        self._emit()
        self._wandb_run.summary["diagnostics/nonfinite_loss_steps"] = self._nonfinite
        self._wandb_run.summary["perf/tracking_overhead_s"] = self.overhead_s
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


def _scalar(value: object) -> bool:
    """A number, or a one-element tensor or numpy array (logged as a float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return bool(value.numel() == 1)
    size = getattr(value, "size", None)
    return isinstance(size, int) and size == 1 and hasattr(value, "item")
