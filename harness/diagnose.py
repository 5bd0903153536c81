"""Why a run failed, and what else in a run deserves a reviewer's eye: rules, no LLM.

Core: pure functions over a Run, its log tail and its curves. Never imports wandb, torch,
anthropic or github. Log lines are untrusted text: they are only matched and quoted.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .runs import Run, RunState

__all__ = ["Diagnosis", "Highlight", "diagnose", "highlights", "traceback_excerpt"]

Category = Literal[
    "oom",
    "nan",
    "import_error",
    "config_error",
    "timeout",
    "preempted",
    "killed",
    "exception",
    "unknown",
]
MAX_EXCERPT_LINES = 40
MAX_LINE = 300

_RULES: tuple[tuple[Category, re.Pattern[str], str], ...] = (
    (
        "oom",
        re.compile(
            r"out of memory|OutOfMemoryError|MemoryError|Cannot allocate memory|oom-kill", re.I
        ),
        "ran out of memory",
    ),
    (
        "nan",
        re.compile(r"NonFiniteLoss|loss (is|was|became) (nan|inf)|non-?finite loss|diverged", re.I),
        "the loss became NaN or inf (divergence)",
    ),
    (
        "import_error",
        re.compile(r"^(ModuleNotFoundError|ImportError)\b"),
        "a module could not be imported",
    ),
    (
        "config_error",
        re.compile(
            r"^(ConfigError|harness\.errors\.ConfigError)\b|unknown hyperparameter|harness\.yaml",
            re.I,
        ),
        "the configuration is invalid",
    ),
)
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Loss)\b(:.*)?$")


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong with a run that did not finish, and the log lines that show it."""

    category: Category
    summary: str
    excerpt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Highlight:
    """Something in a run's diagnostics a reviewer should look at."""

    kind: Literal["nonfinite", "grad_spike"]
    text: str


def _clip(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"


def traceback_excerpt(lines: Sequence[str]) -> tuple[str, ...]:
    """The last Python traceback in the log (bounded), or the last lines when there is none."""
    start = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")),
        default=None,
    )
    if start is None:
        chosen = list(lines[-20:])
    else:
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
            end += 1
        chosen = list(lines[start : end + 1])
        if len(chosen) > MAX_EXCERPT_LINES:  # keep the head and the innermost frames
            chosen = [*chosen[:3], "  …", *chosen[-(MAX_EXCERPT_LINES - 4) :]]
    return tuple(_clip(line) for line in chosen)


def _exception_line(lines: Sequence[str]) -> str | None:
    for line in reversed(lines):
        if _EXCEPTION.match(line.strip()):
            return line.strip()
    return None


def diagnose(run: Run, log_tail: Sequence[str]) -> Diagnosis | None:
    """Rules first: the run's recorded reason, then the log. None for a finished run."""
    if run.state is RunState.FINISHED:
        return None
    reason = run.reason or ""
    excerpt = traceback_excerpt(log_tail)
    text = "\n".join(log_tail)
    if reason.startswith("timed out"):
        return Diagnosis("timeout", f"stopped by the launcher: {reason}", excerpt)
    for category, pattern, summary in _RULES:
        if any(pattern.search(line) for line in log_tail) or pattern.search(reason):
            line = _exception_line(log_tail)
            return Diagnosis(category, f"{summary}" + (f": {line}" if line else ""), excerpt)
    if "SIGTERM" in reason or "preempt" in reason or "preempt" in text.lower():
        return Diagnosis("preempted", f"terminated from outside ({reason or 'SIGTERM'})", excerpt)
    if reason.startswith(("killed", "interrupted")):
        return Diagnosis("killed", f"the process was {reason}", excerpt)
    line = _exception_line(log_tail)
    if line:
        return Diagnosis("exception", f"raised {line}", excerpt)
    if reason.startswith("lost"):  # W&B's "crashed": heartbeats stopped, no error in the log
        return Diagnosis("killed", f"the process was {reason}", excerpt)
    if run.state is RunState.RUNNING or run.state is RunState.UNKNOWN:
        return None
    detail = reason or (
        f"exit code {run.exit_code}" if run.exit_code is not None else "no exit record"
    )
    return Diagnosis(
        "unknown", f"ended {run.state.value} ({detail}) without a recognizable error", excerpt
    )


def highlights(run: Run, grad_norms: Sequence[tuple[int, float]]) -> list[Highlight]:
    """Non-finite loss steps, and gradient-norm spikes (over 10x the run's median)."""
    found: list[Highlight] = []
    nonfinite = run.summary.get("diagnostics/nonfinite_loss_steps")
    if isinstance(nonfinite, (int, float)) and not isinstance(nonfinite, bool) and nonfinite > 0:
        found.append(Highlight("nonfinite", f"{int(nonfinite)} step(s) had a NaN or inf loss"))
    values = [v for _, v in grad_norms]
    if len(values) >= 5:
        median = statistics.median(values)
        spikes = [(s, v) for s, v in grad_norms if median > 0 and v > 10 * median]
        if spikes:
            step, value = max(spikes, key=lambda p: p[1])
            found.append(
                Highlight(
                    "grad_spike",
                    f"gradient norm spiked {len(spikes)} time(s), up to {value:.3g} at step {step}"
                    f" (median {median:.3g})",
                )
            )
    return found
