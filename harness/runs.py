"""Core data model: runs, their states, and the metrics a repository declares.

Core: pure data, no I/O. Never imports wandb, torch, anthropic or github.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol

__all__ = [
    "MAX_MAGNITUDE",
    "Goal",
    "MetricSource",
    "MetricSpec",
    "Run",
    "RunState",
    "RunStore",
    "comparable",
    "public",
    "record_int",
    "record_number",
    "record_str",
]

Goal = Literal["maximize", "minimize"]
MetricSource = Literal["logged", "final", "summary"]


class RunState(str, Enum):
    """Where a run is in its life. ``unknown``: a run directory we could not read a state from."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CRASHED = "crashed"
    UNKNOWN = "unknown"

    @property
    def ended(self) -> bool:
        return self in (RunState.FINISHED, RunState.FAILED, RunState.CRASHED)

    @classmethod
    def parse(cls, value: object) -> RunState:
        """Map any store's state string onto ours (W&B says ``killed`` for crashed runs)."""
        text = str(value).lower() if value is not None else ""
        aliases = {"killed": cls.CRASHED, "preempted": cls.CRASHED, "pending": cls.RUNNING}
        if text in aliases:
            return aliases[text]
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class MetricSpec:
    """A metric the repository declares in ``harness.yaml``; the primary one picks winners."""

    name: str
    goal: Goal
    primary: bool = False
    min_delta: float | None = None

    def improvement(self, delta: float) -> float:
        """Signed gain of a change: positive is better whatever the metric's direction."""
        return delta if self.goal == "maximize" else -delta

    def best(self, values: list[float]) -> float:
        return max(values) if self.goal == "maximize" else min(values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "goal": self.goal,
            "primary": self.primary,
            "min_delta": self.min_delta,
        }


def public(values: Mapping[str, Any]) -> dict[str, Any]:
    """A W&B config or summary without W&B's own keys (``_step``, ``_runtime``, ``_wandb``…)."""
    return {k: v for k, v in values.items() if not str(k).startswith("_")}


def record_int(value: object) -> int | None:
    """An integer field of a run record (JSON may give 3, 3.0 or "3"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def record_str(value: object) -> str | None:
    """A text field of a run record: a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


_NONFINITE_TEXT = {"nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


# Past this magnitude a value cannot be compared: sums and squares of a few such values
# overflow a float (1.7e308 twice raises OverflowError in a mean). Left out like NaN.
MAX_MAGNITUDE = 1e150


def comparable(number: float) -> bool:
    """Finite, and small enough that the statistics over it cannot overflow."""
    return math.isfinite(number) and abs(number) <= MAX_MAGNITUDE


def record_number(value: object) -> float | None:
    """A number of a run record that can be compared (``comparable``), else None."""
    return _as_number(value)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer past a float's range
        return None
    return number if comparable(number) else None


@dataclass(frozen=True)
class Run:
    """One training run, whichever store it came from."""

    id: str
    state: RunState
    branch: str | None = None
    commit: str | None = None
    seed: int | None = None
    group: str | None = None
    name: str | None = None
    url: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    created_at: str | None = None
    ended_at: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    reported_at: str | None = None  # set once the run's report was delivered
    # Where a declared metric's value came from when not logged during training: "summary"
    # (the script set wandb.run.summary[name]); see metric_source.
    metric_sources: Mapping[str, str] = field(default_factory=dict)
    values_from: str | None = None  # who filled config and summary (docs/manifest.md)
    warnings: tuple[str, ...] = ()  # e.g. the script replaced the run's identity

    @property
    def short_commit(self) -> str:
        return (self.commit or "")[:7]

    def metric(self, name: str, *, which: Literal["final", "best"] = "final") -> float | None:
        """A summary value, whatever shape W&B stored it in.

        W&B keeps a plain value, or a dict such as ``{"last": v, "max": m}`` when the script
        called ``define_metric(summary="max,last")``. ``final`` prefers the last value;
        ``best`` prefers the min/max. Non-finite or missing values give ``None``.
        """
        return _as_number(self._summary_value(self._key(name), which))

    def metric_source(self, name: str) -> MetricSource | None:
        """Which value ``metric(name)`` reads: ``logged`` during training, the ``final``
        evaluation's ``final/<name>`` (nothing logged during training), or a ``summary``
        value the script set; None when there is none."""
        key = self._key(name)
        if key not in self.summary:
            return None
        if key != name:
            return "final"
        return "summary" if self.metric_sources.get(name) == "summary" else "logged"

    def _key(self, name: str) -> str:
        """``name``, or ``final/<name>`` when only the final evaluation reported it."""
        final = f"final/{name}"
        return final if name not in self.summary and final in self.summary else name

    def metric_is_nonfinite(self, name: str, *, which: Literal["final", "best"] = "final") -> bool:
        """True when the summary holds the metric but as NaN, ±inf or a number too large to
        compare (``MAX_MAGNITUDE``).

        The manifest writer stores non-finite numbers as the strings ``"nan"``, ``"inf"``
        (JSON has no NaN), so those count too: such a run diverged rather than never logged.
        """
        value = self._summary_value(self._key(name), which)
        if isinstance(value, bool):
            return False
        if isinstance(value, float):
            return not comparable(value)
        if isinstance(value, int):
            return _as_number(value) is None
        return isinstance(value, str) and value.strip().lower() in _NONFINITE_TEXT

    def _summary_value(self, name: str, which: Literal["final", "best"]) -> object:
        value = self.summary.get(name)
        if isinstance(value, Mapping):
            order = ("last", "max", "min", "mean") if which == "final" else ("max", "min", "last")
            return next((value[key] for key in order if key in value), None)
        return value


class RunStore(Protocol):
    """Where runs are read from: the local store, or W&B (a later adapter)."""

    warnings: list[str]

    def runs(
        self, *, branch: str | None = None, states: Iterable[RunState] | None = None
    ) -> list[Run]:
        """Runs, newest first, optionally of one branch and in some states."""
        ...

    def get(self, run_id: str) -> Run: ...

    def curve(self, run_id: str, metric: str) -> list[tuple[int, float]]: ...

    def log_tail(self, run_id: str, lines: int = 50) -> list[str]: ...

    def mark_reported(self, run_ids: Iterable[str]) -> None:
        """Record that these runs' report was delivered, so later events skip them."""
        ...
