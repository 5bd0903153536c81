"""Plots: one metric over training steps, each side's seeds as a mean line and a ±std band.

matplotlib is imported only when a plot is drawn (the ``plot`` extra): core and the other
commands never pay for it. Branch names are untrusted: they reach the figure as plain text
(``$`` escaped, so matplotlib never reads them as math).
"""

from __future__ import annotations

import bisect
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .runs import MetricSpec

__all__ = ["PlotResult", "Side", "band", "draw_metric", "interpolate", "step_grid"]

Curve = Sequence[tuple[int, float]]
GRID_POINTS = 256  # steps on the common grid when the runs logged more distinct steps


@dataclass(frozen=True)
class Side:
    """One line of the plot: a branch (or the baseline) and its runs' curves."""

    label: str
    curves: tuple[Curve, ...]
    baseline: bool = False


@dataclass(frozen=True)
class PlotResult:
    path: Path
    metric: str
    sides: tuple[Side, ...]
    warnings: tuple[str, ...] = ()


def step_grid(curves: Sequence[Curve], points: int = GRID_POINTS) -> list[float]:
    """The steps every curve is resampled on: the logged steps themselves when there are
    few, else ``points`` evenly spaced steps over their range."""
    steps = sorted({step for curve in curves for step, _ in curve})
    if len(steps) <= points:
        return [float(s) for s in steps]
    first, last = steps[0], steps[-1]
    return [first + (last - first) * i / (points - 1) for i in range(points)]


def interpolate(curve: Curve, grid: Sequence[float]) -> list[float]:
    """Linear interpolation of a curve at each grid step, held flat past its ends."""
    points = sorted(curve)
    steps = [s for s, _ in points]
    values: list[float] = []
    for x in grid:
        i = bisect.bisect_left(steps, x)
        if i == 0:
            values.append(points[0][1])
        elif i == len(points):
            values.append(points[-1][1])
        else:
            (s0, v0), (s1, v1) = points[i - 1], points[i]
            values.append(v1 if s1 == s0 else v0 + (v1 - v0) * (x - s0) / (s1 - s0))
    return values


def band(curves: Sequence[Curve], grid: Sequence[float]) -> tuple[list[float], list[float]]:
    """Mean and sample standard deviation over the curves at each grid step (std 0 with one
    curve). Non-finite points are dropped before resampling."""
    finite = [[(s, v) for s, v in c if math.isfinite(v)] for c in curves]
    columns = list(zip(*(interpolate(c, grid) for c in finite if c), strict=True))
    means, stds = [], []
    for column in columns:
        mean = math.fsum(column) / len(column)
        means.append(mean)
        spread = (
            math.fsum((v - mean) ** 2 for v in column) / (len(column) - 1)
            if len(column) > 1
            else 0.0
        )
        stds.append(math.sqrt(spread))
    return means, stds


def _text(label: str) -> str:
    """Plain text for matplotlib: no math mode, and a leading '_' would hide it from the legend."""
    label = label.replace("$", r"\$")
    return "\u200b" + label if label.startswith("_") else label


def draw_metric(path: Path, spec: MetricSpec, sides: Sequence[Side]) -> None:
    """Write a PNG of ``spec`` over steps: per side, the mean over seeds and a ±1 std band.

    The grid is common to all sides (the union of their steps); each side is drawn only
    over the range of steps its runs logged.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise UsageError(
            "check-results plot needs matplotlib: pip install 'harness[plot]'"
        ) from exc
    grid = step_grid([c for side in sides for c in side.curves])
    figure = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    colors = iter(["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9"] * 100)
    for side in sides:
        curves = [c for c in side.curves if c]
        first = min(s for c in curves for s, _ in c)
        last = max(s for c in curves for s, _ in c)
        steps = [x for x in grid if first <= x <= last] or [float(first)]
        means, stds = band(curves, steps)
        if not means:
            continue
        color = "0.25" if side.baseline else next(colors)
        label = f"{side.label} (n={len(curves)})"
        axes.plot(
            steps, means, color=color, linestyle="--" if side.baseline else "-", label=_text(label)
        )
        if len(curves) > 1:
            low = [m - s for m, s in zip(means, stds, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            axes.fill_between(steps, low, high, color=color, alpha=0.18, linewidth=0)
    better = "higher" if spec.goal == "maximize" else "lower"
    axes.set_title(_text(f"{spec.name} over training steps ({better} is better)"))
    axes.set_xlabel("step")
    axes.set_ylabel(_text(spec.name))
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small", title="mean ± std over seeds")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".png", delete=False
    ) as handle:
        temporary = Path(handle.name)
    try:
        figure.savefig(temporary, format="png")
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
