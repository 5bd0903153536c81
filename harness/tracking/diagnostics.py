"""Training diagnostics computed cheaply: a host sync only on the steps that are logged.

Every step costs one list append (the detached loss). Gradient norms use one fused kernel
over all gradients (``torch._foreach_norm``) and reach the host in one transfer. torch is
never imported here: it is taken from the tensors the training script passes in.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import Any

__all__ = ["StepMeter", "gpu_memory", "grad_norms", "learning_rates", "param_groups"]

MAX_GROUPS = 32  # beyond this, gradient norms are grouped by top-level module


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_float(value: Any) -> float:
    """A Python float from a number or a one-element tensor (a host sync for tensors)."""
    if _is_tensor(value):
        return float(value.detach().float().item())
    if hasattr(value, "item"):  # numpy scalars and one-element arrays
        return float(value.item())
    return float(value)


class StepMeter:
    """Window statistics between two logged steps: mean loss, step time, samples/s.

    A step only appends its loss to a list (a CPU loss as a float, an accelerator's as a
    detached tensor): no kernel launch, no host sync, no clock read. At the flush the
    window's device losses are summed and checked for NaN/inf with one kernel and one
    device-to-host copy. Step time is the window's wall time minus the
    time spent in pauses (validation, checkpoints), so evaluation does not pass for slow
    training steps.
    """

    def __init__(self) -> None:
        self._reset(time.perf_counter())

    def _reset(self, now: float) -> None:
        self.losses: list[Any] = []
        self.steps = 0
        self.samples = 0
        self.started = now
        self.paused = 0.0
        self.paused_at: float | None = None

    def pause(self) -> None:
        if self.paused_at is None:
            self.paused_at = time.perf_counter()

    def add(self, loss: Any, batch_size: int | None) -> None:
        if self.paused_at is not None:  # the first step after a pause
            self.paused += time.perf_counter() - self.paused_at
            self.paused_at = None
        self.steps += 1
        if batch_size:
            self.samples += batch_size
        if loss is None:
            return
        if isinstance(loss, (int, float)):
            self.losses.append(float(loss))
        elif loss.is_cpu:  # nothing to wait for: read the value now (0.2 us)
            self.losses.append(loss.item())
        else:  # stays on its device until the flush
            self.losses.append(loss.detach())

    def _losses(self) -> tuple[float, int, int]:
        """Sum, non-finite count and count of the window's losses."""
        numbers = [v for v in self.losses if isinstance(v, float)]
        tensors = [v for v in self.losses if not isinstance(v, float)]
        total = math.fsum(numbers)
        nonfinite = sum(not math.isfinite(n) for n in numbers)
        if tensors:
            torch = sys.modules["torch"]
            try:  # the usual case: 0-dim losses of one dtype, one kernel
                stacked = torch.stack(tensors).float()
            except RuntimeError:
                stacked = torch.stack([t.float().reshape(()) for t in tensors])
            both = torch.stack([stacked.sum(), (~stacked.isfinite()).sum().float()]).tolist()
            total, nonfinite = total + both[0], nonfinite + int(both[1])
        return total, nonfinite, len(numbers) + len(tensors)

    def flush(self) -> tuple[dict[str, float], int]:
        """Metrics for the window (one host sync) and its count of non-finite losses."""
        now = time.perf_counter()
        if self.paused_at is not None:
            self.paused += now - self.paused_at
        elapsed = now - self.started - self.paused
        metrics: dict[str, float] = {}
        total, nonfinite, count = self._losses()
        if count:
            metrics["train/loss"] = total / count
        if self.steps and elapsed > 0:
            metrics["perf/step_time_ms"] = 1000 * elapsed / self.steps
            if self.samples:
                metrics["perf/samples_per_s"] = self.samples / elapsed
        self._reset(now)
        return metrics, nonfinite


def param_groups(named_parameters: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    """Parameters grouped by the module that owns them (``0.weight`` → ``0``)."""
    named = [(name, p) for name, p in named_parameters if p.requires_grad]
    groups: dict[str, list[Any]] = {}
    for name, param in named:
        groups.setdefault(name.rpartition(".")[0] or name, []).append(param)
    if len(groups) > MAX_GROUPS:  # a deep model: one group per top-level module instead
        groups = {}
        for name, param in named:
            groups.setdefault(name.partition(".")[0], []).append(param)
    return groups


def grad_norms(groups: dict[str, list[Any]]) -> dict[str, float]:
    """The global gradient L2 norm and one per group, in a single device-to-host copy."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    names, grads, owners = [], [], []
    for index, (name, params) in enumerate(groups.items()):
        names.append(name)
        for param in params:
            if param.grad is not None:
                grads.append(param.grad.detach())
                owners.append(index)
    if not grads:
        return {}
    norms = torch.stack(torch._foreach_norm(grads)).float().tolist()  # the one host sync
    squares = [0.0] * len(names)
    for owner, norm in zip(owners, norms, strict=True):
        squares[owner] += norm * norm
    result = {"diagnostics/grad_norm": math.sqrt(math.fsum(squares))}
    for name, square in zip(names, squares, strict=True):
        result[f"diagnostics/grad_norm/{name}"] = math.sqrt(square)
    return result


def learning_rates(optimizer: Any) -> dict[str, float]:
    groups = getattr(optimizer, "param_groups", [])
    if len(groups) == 1:
        return {"diagnostics/lr": float(groups[0]["lr"])}
    return {f"diagnostics/lr/group_{i}": float(g["lr"]) for i, g in enumerate(groups)}


def gpu_memory(model: Any) -> dict[str, float]:
    """Allocated and peak GPU memory (GB) when the model lives on a CUDA device."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return {}
    try:
        device = next(model.parameters()).device
    except (StopIteration, AttributeError):
        return {}
    if device.type != "cuda":
        return {}
    gb = 1024**3
    return {
        "perf/gpu_memory_gb": torch.cuda.memory_allocated(device) / gb,
        "perf/gpu_max_memory_gb": torch.cuda.max_memory_allocated(device) / gb,
    }
