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

    A step only appends the loss to a list: a CPU loss as a float, a GPU loss as a
    detached tensor (no kernel launch, no host sync), whose window sum and non-finite count
    are computed at the flush in one device-to-host copy.
    Step time is the time between consecutive ``add`` calls; an interval that contains a
    ``pause`` (validation, checkpointing) is not counted, so evaluation does not pass for
    slow training steps.
    """

    def __init__(self) -> None:
        self.last: float | None = None
        self._reset()

    def _reset(self) -> None:
        self.tensors: list[Any] = []
        self.numbers: list[float] = []
        self.steps = 0
        self.timed_steps = 0
        self.timed_samples = 0
        self.elapsed = 0.0

    def pause(self) -> None:
        self.last = None

    def add(self, loss: Any, batch_size: int | None) -> None:
        now = time.perf_counter()
        self.steps += 1
        if self.last is not None:
            self.elapsed += now - self.last
            self.timed_steps += 1
            self.timed_samples += batch_size or 0
        self.last = now
        if loss is None:
            return
        if not _is_tensor(loss):
            self.numbers.append(float(loss))
        elif loss.device.type == "cpu":  # no device to wait for: read it now, exactly
            self.numbers.append(loss.item())
        else:  # keep it on the device; one transfer at the flush
            self.tensors.append(loss.detach())

    def _losses(self) -> tuple[float, int, int]:
        """Sum, non-finite count and count of the window's losses."""
        total = math.fsum(self.numbers)
        nonfinite = sum(not math.isfinite(n) for n in self.numbers)
        if self.tensors:
            torch = sys.modules["torch"]
            try:  # the usual case: 0-dim losses of one dtype, one kernel
                stacked = torch.stack(self.tensors).float()
            except RuntimeError:
                stacked = torch.stack([t.float().reshape(()) for t in self.tensors])
            both = torch.stack([stacked.sum(), (~stacked.isfinite()).sum().float()]).tolist()
            total, nonfinite = total + both[0], nonfinite + int(both[1])
        return total, nonfinite, len(self.tensors) + len(self.numbers)

    def flush(self) -> tuple[dict[str, float], int]:
        """Metrics for the window (one host sync) and its count of non-finite losses."""
        metrics: dict[str, float] = {}
        total, nonfinite, count = self._losses()
        if count:
            metrics["train/loss"] = total / count
        if self.timed_steps and self.elapsed > 0:
            metrics["perf/step_time_ms"] = 1000 * self.elapsed / self.timed_steps
            if self.timed_samples:
                metrics["perf/samples_per_s"] = self.timed_samples / self.elapsed
        self._reset()
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
