"""Settings: ``harness.yaml`` plus environment overrides, validated once into frozen data.

Precedence, highest first: command-line flag > ``HARNESS_*`` / ``WANDB_*`` variables >
``harness.yaml`` > defaults. An unknown key or a bad value is a ConfigError whose one-line
message names the file (or variable) and the key. Unknown ``HARNESS_*`` variables are
ignored: CI systems set many variables. Core: never imports wandb.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from .bounded import DataError, parse_yaml, shown
from .errors import BranchError, ConfigError
from .git import Git, validate_branch
from .runs import MetricSpec

__all__ = [
    "BACKENDS",
    "CONFIG_FILE",
    "MODULE_FLAGS",
    "AnalysisSettings",
    "BudgetSettings",
    "CompareSettings",
    "GithubSettings",
    "LaunchSettings",
    "Settings",
    "TrackingSettings",
    "WandbSettings",
    "load_settings",
    "parse_budget",
    "parse_duration",
    "parse_settings",
    "parse_wait",
]

CONFIG_FILE = "harness.yaml"
MAX_CONFIG_BYTES = 256 * 1024
BACKENDS = ("local", "wandb")
Backend = Literal["local", "wandb"]
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")
_WANDB_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
MODULE_FLAGS = ("-m", "--module")  # the last word of a command that runs a module


@dataclass(frozen=True)
class WandbSettings:
    project: str = "harness"
    entity: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class LaunchSettings:
    entry_point: str = "train.py"  # a script in the repo; a module after ``command: python -m``
    # The entry point's arguments; {seed}, {branch}, {commit} and {run_id} are filled in.
    args: tuple[str, ...] = ()
    # The command the entry point runs under: ("python",) by default, or e.g. ("torchrun",
    # "--nproc-per-node", "2") or ("accelerate", "launch"); "python" is the launch interpreter.
    command: tuple[str, ...] = ("python",)
    seeds: int = 1
    timeout_s: float | None = None
    queue: str | None = None  # the W&B Launch queue (backend wandb); HARNESS_LAUNCH_QUEUE
    supersede: bool = False  # a new push cancels the branch's previous still-queued items
    # The interpreter the local launcher runs the entry point with (HARNESS_LAUNCH_PYTHON
    # only: a machine's path never belongs in harness.yaml); None: the harness's own.
    python: str | None = None


@dataclass(frozen=True)
class TrackingSettings:
    """How harness.tracking logs: cadence, diagnostics, what to do on a non-finite loss."""

    # Steps between train-metric + diagnostics logs. A logged row costs about 0.6 ms in a
    # training loop here (benchmarks/tracking_overhead.py): 200 steps amortize it.
    log_every: int = 200
    diagnostics: bool = True  # gradient norms, learning rates, step time, GPU memory
    stop_on_nonfinite: bool = False  # fail the run when the loss becomes NaN or inf
    predictions: int = 32  # rows of the sample-predictions table


ENGINES = ("anthropic", "claude_code", "none")


@dataclass(frozen=True)
class AnalysisSettings:
    """How `harness analyze` asks Claude for an analysis of an ended run."""

    engine: str = "anthropic"  # anthropic (the SDK), claude_code (claude -p) or none
    model: str = "claude-sonnet-5-5"  # in the pinned SDK's model list; 4-5 reached end of life
    max_tokens: int = 1500  # the answer's budget
    max_prompt_chars: int = 60_000  # a hard cap on what is sent, logs included
    timeout_s: float = 120.0  # per request (the SDK's own default is 10 minutes)
    retries: int = 2  # the SDK's retries of a timeout, 429 or 5xx, with its own backoff
    # claude_code only: let it read a checkout of the run's commit with Read, Grep and Glob
    # (confined to that checkout; nothing written). Off: no tools at all.
    read_checkout: bool = False


@dataclass(frozen=True)
class GithubSettings:
    """How reports reach pull requests (``harness comment``; the launch workflow too)."""

    open_draft_pr: bool = False  # a branch with no open PR gets a draft PR for its report
    # Besides bots (the Actions token comments as github-actions[bot]), the one login whose
    # report comments may be updated: the user of a personal token, when one is used.
    comment_author: str | None = None
    # GitHub asks for a second between content-creating writes; PyGithub waits that long.
    write_interval_s: float = 1.0  # github.write_interval, HARNESS_GITHUB_WRITE_INTERVAL
    # The first wait before retrying a 5xx, 429 or network error, doubled on each attempt
    # (a Retry-After header wins). github.retry_wait, HARNESS_GITHUB_RETRY_WAIT.
    retry_wait_s: float = 1.0


@dataclass(frozen=True)
class CompareSettings:
    """How check-results judges branches (docs/statistics.md)."""

    # Confidence level of Welch's t-test (two-sided) and of Holm's correction across
    # branches: a change is significant when p < 1 - confidence. HARNESS_CONFIDENCE.
    confidence: float = 0.95


@dataclass(frozen=True)
class BudgetSettings:
    """What a branch may spend (``budget:``; read from the baseline commit's harness.yaml).
    None: no limit."""

    runs_per_branch: int | None = None
    concurrent_runs: int | None = None
    hours_per_branch: float | None = None

    @property
    def limited(self) -> bool:
        return any(
            v is not None
            for v in (self.runs_per_branch, self.concurrent_runs, self.hours_per_branch)
        )


@dataclass(frozen=True)
class Settings:
    """Everything the harness reads from configuration, resolved and validated."""

    root: Path
    home: Path
    backend: Backend = "local"
    baseline_branch: str = "main"
    wandb: WandbSettings = field(default_factory=WandbSettings)
    launch: LaunchSettings = field(default_factory=LaunchSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    github: GithubSettings = field(default_factory=GithubSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)
    metrics: tuple[MetricSpec, ...] = ()
    # Paths a branch may not change for its runs to be comparable (besides the defaults:
    # harness/, .github/, actions/, and harness.yaml's metrics, protected and budget keys).
    # Always read from the baseline commit's harness.yaml, never the branch's.
    protected: tuple[str, ...] = ()
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    source: Path | None = None

    @property
    def primary_metric(self) -> MetricSpec | None:
        return next((m for m in self.metrics if m.primary), None)

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: object, bare_unit: str) -> float | None:
    """Seconds from a number (in ``bare_unit``) or ``<number>[s|m|h|d]``; None if neither."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value) * _UNITS[bare_unit]
        except OverflowError:  # an integer past a float's range
            return None
    match = _DURATION.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * _UNITS[match.group(2) or bare_unit]


def parse_duration(value: object, where: str) -> float:
    """Seconds from ``90s``, ``30m``, ``2h`` or a bare number of minutes."""
    seconds = _seconds(value, "m")
    if seconds is None:
        raise ConfigError(f"{where}: expected a duration like 90s, 30m or 2h, got {shown(value)}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{where}: expected a positive duration, got {shown(value)}")
    return seconds


def parse_wait(value: object, where: str) -> float:
    """Seconds of a wait from ``0``, ``0.5s``, ``2s`` or ``1m`` (bare numbers are seconds,
    zero allowed), at most a minute: waits between remote calls, never a run's budget."""
    seconds = _seconds(value, "s")
    if seconds is None:
        raise ConfigError(f"{where}: expected a wait like 0, 0.5s or 2s, got {shown(value)}")
    if not (math.isfinite(seconds) and 0 <= seconds <= 60):
        raise ConfigError(f"{where}: expected a wait from 0 to 60s, got {shown(value)}")
    return seconds


class _Reader:
    """Reads one mapping strictly: every key must be known, every value the right type."""

    def __init__(self, data: object, where: str, known: set[str]) -> None:
        if data is None:
            data = {}
        here = where.rstrip(":")
        if not isinstance(data, Mapping):
            raise ConfigError(f"{here}: expected a mapping, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ConfigError(
                f"{here}: unknown key {shown(unknown[0])} (known: {', '.join(sorted(known))})"
            )
        self.data = data
        self.where = where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if not self.where.endswith(":") else f"{self.where} {key}"

    def get(self, key: str, kind: type, default: Any) -> Any:
        value = self.data.get(key, default)
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError as exc:
                raise ConfigError(f"{self._key(key)}: {shown(value)} is too large") from exc
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{self._key(key)}: expected {kind.__name__}, got {shown(value)}")
        return value

    def raw(self, key: str) -> object:
        return self.data.get(key)


def _queue(value: str | None, where: str) -> str | None:
    if value is not None and not _QUEUE.match(value):
        raise ConfigError(f"{where}: {shown(value)} is not a W&B queue name")
    return value


def _name(value: str, where: str) -> str:
    if not _WANDB_NAME.match(value):
        raise ConfigError(f"{where}: {shown(value)} may only use letters, digits, '.', '_' and '-'")
    return value


def _metrics(data: object, where: str) -> tuple[MetricSpec, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list of {{name, goal, primary, min_delta}}")
    specs: list[MetricSpec] = []
    for i, item in enumerate(data):
        here = f"{where}[{i}]"
        reader = _Reader(item, here, {"name", "goal", "primary", "min_delta"})
        name = reader.get("name", str, "")
        if not name.strip():
            raise ConfigError(f"{here}.name: a metric needs a name")
        goal = reader.get("goal", str, "")
        if goal not in ("maximize", "minimize"):
            raise ConfigError(f"{here}.goal: expected 'maximize' or 'minimize', got {shown(goal)}")
        min_delta = reader.get("min_delta", float, None)
        if min_delta is not None and (not math.isfinite(min_delta) or min_delta < 0):
            raise ConfigError(f"{here}.min_delta: expected a number >= 0, got {shown(min_delta)}")
        if any(s.name == name for s in specs):
            raise ConfigError(f"{here}.name: metric {shown(name)} is declared twice")
        specs.append(
            MetricSpec(
                name=name,
                goal=cast(Any, goal),
                primary=reader.get("primary", bool, False),
                min_delta=min_delta,
            )
        )
    primaries = [s.name for s in specs if s.primary]
    if len(primaries) > 1:
        raise ConfigError(f"{where}: only one metric may be primary, got {shown(primaries)}")
    if specs and not primaries:  # the first declared metric is primary unless one says so
        first = specs[0]
        specs[0] = MetricSpec(first.name, first.goal, True, first.min_delta)
    return tuple(specs)


def parse_settings(data: object, *, source: str) -> dict[str, Any]:
    """Validate the content of a ``harness.yaml`` into keyword arguments for Settings."""
    top = _Reader(
        data,
        f"{source}:",
        {
            "backend",
            "baseline_branch",
            "wandb",
            "launch",
            "tracking",
            "analysis",
            "github",
            "compare",
            "metrics",
            "protected",
            "budget",
        },
    )
    out: dict[str, Any] = {}
    backend = top.get("backend", str, None)
    if backend is not None:
        out["backend"] = _backend(backend, f"{source}: backend")
    baseline = top.get("baseline_branch", str, None)
    if baseline is not None:
        out["baseline_branch"] = _branch(baseline, f"{source}: baseline_branch")

    wb = _Reader(top.raw("wandb"), f"{source}: wandb", {"project", "entity", "base_url"})
    project = wb.get("project", str, WandbSettings.project)
    entity = wb.get("entity", str, None)
    out["wandb"] = WandbSettings(
        project=_name(project, f"{source}: wandb.project"),
        entity=_name(entity, f"{source}: wandb.entity") if entity else None,
        base_url=wb.get("base_url", str, None),
    )

    ln = _Reader(
        top.raw("launch"),
        f"{source}: launch",
        {"entry_point", "args", "command", "seeds", "timeout", "queue", "supersede"},
    )
    command = _command(ln.raw("command"), f"{source}: launch.command")
    entry = ln.get("entry_point", str, LaunchSettings.entry_point)
    if command[-1] in MODULE_FLAGS:
        if not _MODULE.match(entry):
            raise ConfigError(
                f"{source}: launch.entry_point: after {shown(' '.join(command))} it must be a"
                f" module name like pkg.train, got {shown(entry)}"
            )
    elif Path(entry).is_absolute() or ".." in Path(entry).parts:
        raise ConfigError(
            f"{source}: launch.entry_point: must be a path inside the repo: {shown(entry)}"
        )
    args = ln.get("args", list, [])
    if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
        raise ConfigError(f"{source}: launch.args: expected a list of strings")
    if any("\0" in str(a) for a in args):
        raise ConfigError(f"{source}: launch.args: an argument contains a NUL character")
    seeds = ln.get("seeds", int, 1)
    if not 1 <= seeds <= 100:
        raise ConfigError(f"{source}: launch.seeds: expected 1 to 100, got {shown(seeds)}")
    timeout = ln.raw("timeout")
    out["launch"] = LaunchSettings(
        entry_point=entry,
        args=tuple(str(a) for a in args),
        command=command,
        seeds=seeds,
        timeout_s=parse_duration(timeout, f"{source}: launch.timeout") if timeout else None,
        queue=_queue(ln.get("queue", str, None), f"{source}: launch.queue"),
        supersede=ln.get("supersede", bool, False),
    )
    out["tracking"] = _tracking(_Reader(top.raw("tracking"), f"{source}: tracking", _TRACKING_KEYS))
    out["analysis"] = _analysis(_Reader(top.raw("analysis"), f"{source}: analysis", _ANALYSIS_KEYS))
    gh = _Reader(
        top.raw("github"),
        f"{source}: github",
        {"open_draft_pr", "comment_author", "write_interval", "retry_wait"},
    )
    author = gh.get("comment_author", str, None)
    if author is not None and not _LOGIN.match(author):
        raise ConfigError(f"{source}: github.comment_author: not a GitHub login: {shown(author)}")
    waits = {
        name: parse_wait(gh.raw(key), f"{source}: github.{key}")
        for name, key in (("write_interval_s", "write_interval"), ("retry_wait_s", "retry_wait"))
        if gh.raw(key) is not None
    }
    out["github"] = GithubSettings(
        open_draft_pr=gh.get("open_draft_pr", bool, False), comment_author=author, **waits
    )
    cmp = _Reader(top.raw("compare"), f"{source}: compare", {"confidence"})
    out["compare"] = CompareSettings(
        confidence=_confidence(
            cmp.get("confidence", float, CompareSettings.confidence),
            f"{source}: compare.confidence",
        )
    )
    out["metrics"] = _metrics(top.raw("metrics"), f"{source}: metrics")
    out["protected"] = _protected(top.raw("protected"), f"{source}: protected")
    out["budget"] = parse_budget(top.raw("budget"), f"{source}: budget")
    return out


def parse_budget(value: object, where: str) -> BudgetSettings:
    """``budget:``: ``runs_per_branch``, ``concurrent_runs`` (positive integers) and
    ``hours_per_branch`` (hours, or a duration such as ``90m``)."""
    reader = _Reader(value, where, {"runs_per_branch", "concurrent_runs", "hours_per_branch"})
    counts = {}
    for key in ("runs_per_branch", "concurrent_runs"):
        count = reader.get(key, int, None)
        if count is not None and not 1 <= count <= 1_000_000:
            raise ConfigError(f"{where}.{key}: expected 1 to 1000000, got {shown(count)}")
        counts[key] = count
    hours = reader.raw("hours_per_branch")
    if hours is None:
        limit = None
    elif isinstance(hours, (int, float)) and not isinstance(hours, bool):
        limit = float(hours) if abs(hours) <= 1e9 else math.inf
    else:
        limit = parse_duration(hours, f"{where}.hours_per_branch") / 3600
    if limit is not None and not (0 < limit <= 1_000_000 and math.isfinite(limit)):
        raise ConfigError(f"{where}.hours_per_branch: expected a positive number of hours")
    return BudgetSettings(counts["runs_per_branch"], counts["concurrent_runs"], limit)


_PROTECTED = re.compile(r"[A-Za-z0-9_./*?-]{1,200}")


def _protected(value: object, where: str) -> tuple[str, ...]:
    """``protected``: repository paths (a folder ends with ``/``; ``*`` and ``?`` match)."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 200:
        raise ConfigError(f"{where}: expected a list of at most 200 paths")
    paths = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _PROTECTED.fullmatch(item):
            raise ConfigError(f"{where}[{i}]: not a repository path: {str(item)[:80]!r}")
        if item.startswith("/") or ".." in item.split("/"):
            raise ConfigError(
                f"{where}[{i}]: must be relative and inside the repository: {shown(item)}"
            )
        paths.append(item)
    return tuple(paths)


def _command(value: object, where: str) -> tuple[str, ...]:
    """``launch.command``: a list of words, or one string split like a shell would."""
    if value is None:
        return LaunchSettings.command
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split {shown(value)}: {exc}") from exc
    elif isinstance(value, list) and all(isinstance(w, str) for w in value):
        words = list(value)
    else:
        raise ConfigError(f"{where}: expected a command like 'torchrun --nproc-per-node 2'")
    if not words or not words[0].strip():
        raise ConfigError(f"{where}: the command is empty")
    if any("\0" in w for w in words) or len(words) > 50:
        raise ConfigError(f"{where}: expected at most 50 words without NUL characters")
    if "/" in words[0] or words[0].startswith("-"):
        raise ConfigError(
            f"{where}: the program must be a bare name found on PATH or beside the launch"
            f" Python (like torchrun), got {shown(words[0])}"
        )
    return tuple(words)


def _confidence(value: object, where: str) -> float:
    """A confidence level in [0.5, 1): 0.95 means significance at p < 0.05."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not 0.5 <= number < 1.0:
        raise ConfigError(
            f"{where}: expected a confidence level from 0.5 to below 1 (e.g. 0.95),"
            f" got {shown(value)}"
        )
    return number


_ANALYSIS_KEYS = {
    "engine",
    "model",
    "max_tokens",
    "max_prompt_chars",
    "timeout",
    "retries",
    "read_checkout",
}


def _analysis(reader: _Reader) -> AnalysisSettings:
    default = AnalysisSettings()
    engine = reader.get("engine", str, default.engine)
    if engine not in ENGINES:
        raise ConfigError(
            f"{reader.where}.engine: expected one of {', '.join(ENGINES)}, got {shown(engine)}"
        )
    model = reader.get("model", str, default.model)
    if not re.fullmatch(r"[A-Za-z0-9._:@-]{1,100}", model):
        raise ConfigError(f"{reader.where}.model: not a model name: {shown(model)}")
    max_tokens = reader.get("max_tokens", int, default.max_tokens)
    if not 1 <= max_tokens <= 64_000:
        raise ConfigError(
            f"{reader.where}.max_tokens: expected 1 to 64000, got {shown(max_tokens)}"
        )
    cap = reader.get("max_prompt_chars", int, default.max_prompt_chars)
    if not 2_000 <= cap <= 1_000_000:
        raise ConfigError(
            f"{reader.where}.max_prompt_chars: expected 2000 to 1000000, got {shown(cap)}"
        )
    retries = reader.get("retries", int, default.retries)
    if not 0 <= retries <= 10:
        raise ConfigError(f"{reader.where}.retries: expected 0 to 10, got {shown(retries)}")
    timeout = reader.raw("timeout")
    read_checkout = reader.get("read_checkout", bool, default.read_checkout)
    if read_checkout and engine != "claude_code":
        raise ConfigError(
            f"{reader.where}.read_checkout: only the claude_code engine can read the checkout"
            f" (engine is {engine})"
        )
    return AnalysisSettings(
        read_checkout=read_checkout,
        retries=retries,
        engine=engine,
        model=model,
        max_tokens=max_tokens,
        max_prompt_chars=cap,
        timeout_s=parse_duration(timeout, f"{reader.where}.timeout")
        if timeout
        else default.timeout_s,
    )


_TRACKING_KEYS = {"log_every", "diagnostics", "stop_on_nonfinite", "predictions"}


def _tracking(reader: _Reader) -> TrackingSettings:
    default = TrackingSettings()
    log_every = reader.get("log_every", int, default.log_every)
    if log_every < 1:
        raise ConfigError(
            f"{reader.where}.log_every: expected an integer >= 1, got {shown(log_every)}"
        )
    predictions = reader.get("predictions", int, default.predictions)
    if not 0 <= predictions <= 1000:
        raise ConfigError(
            f"{reader.where}.predictions: expected 0 to 1000, got {shown(predictions)}"
        )
    return TrackingSettings(
        log_every=log_every,
        diagnostics=reader.get("diagnostics", bool, default.diagnostics),
        stop_on_nonfinite=reader.get("stop_on_nonfinite", bool, default.stop_on_nonfinite),
        predictions=predictions,
    )


def _backend(value: str, where: str) -> Backend:
    if value not in BACKENDS:
        raise ConfigError(f"{where}: expected one of {', '.join(BACKENDS)}, got {shown(value)}")
    return cast(Backend, value)


def _branch(value: str, where: str) -> str:
    try:
        return validate_branch(value)
    except BranchError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def read_config_file(path: Path) -> object:
    """Parse a YAML file; a syntax error is a one-line ConfigError with the position."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    return parse_config_text(text, str(path))


def parse_config_text(text: str, source: str) -> object:
    """A harness.yaml's text (from a file or a commit), parsed within bounds (bounded.py)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return parse_yaml(text)
    except DataError as exc:
        raise ConfigError(f"{source}: refused: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from exc


def load_settings(
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    backend: str | None = None,
    home: str | Path | None = None,
    config_text: str | None = None,
    config_source: str = CONFIG_FILE,
) -> Settings:
    """Resolve Settings for the repository containing ``cwd``.

    ``backend`` and ``home`` are command-line flags (highest precedence). ``config_text``
    replaces the file's content (the local launcher reads a branch's file from git), and
    ``config_source`` names it in error messages.
    """
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).resolve()
    git = Git(cwd)
    root = git.toplevel() or cwd
    config_path = Path(env["HARNESS_CONFIG"]) if env.get("HARNESS_CONFIG") else root / CONFIG_FILE
    values: dict[str, Any] = {}
    source: Path | None = None
    if config_text is not None:
        data = parse_config_text(config_text, config_source)
        values = parse_settings(data, source=config_source)
    elif config_path.is_file():
        source = config_path.resolve()
        values = parse_settings(read_config_file(config_path), source=str(config_path))
    elif env.get("HARNESS_CONFIG"):
        raise ConfigError(f"HARNESS_CONFIG: no such file: {config_path}")

    chosen_backend = backend or env.get("HARNESS_BACKEND") or values.get("backend") or "local"
    where = (
        "--backend" if backend else "HARNESS_BACKEND" if env.get("HARNESS_BACKEND") else "backend"
    )
    values["backend"] = _backend(chosen_backend, where)
    if env.get("HARNESS_BASELINE_BRANCH"):
        values["baseline_branch"] = _branch(
            env["HARNESS_BASELINE_BRANCH"], "HARNESS_BASELINE_BRANCH"
        )
    if env.get("HARNESS_LAUNCH_PYTHON"):
        python = Path(env["HARNESS_LAUNCH_PYTHON"]).expanduser()
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise ConfigError(f"HARNESS_LAUNCH_PYTHON: not an executable file: {python}")
        values["launch"] = replace(values.get("launch", LaunchSettings()), python=str(python))
    if env.get("HARNESS_CONFIDENCE"):
        values["compare"] = CompareSettings(
            confidence=_confidence(env["HARNESS_CONFIDENCE"].strip(), "HARNESS_CONFIDENCE")
        )
    for variable, name in (
        ("HARNESS_GITHUB_WRITE_INTERVAL", "write_interval_s"),
        ("HARNESS_GITHUB_RETRY_WAIT", "retry_wait_s"),
    ):
        if env.get(variable):
            github = values.get("github", GithubSettings())
            values["github"] = replace(github, **{name: parse_wait(env[variable], variable)})
    if env.get("HARNESS_LAUNCH_QUEUE"):
        values["launch"] = replace(
            values.get("launch", LaunchSettings()),
            queue=_queue(env["HARNESS_LAUNCH_QUEUE"], "HARNESS_LAUNCH_QUEUE"),
        )

    wandb = values.get("wandb", WandbSettings())
    values["wandb"] = WandbSettings(
        project=_name(env["WANDB_PROJECT"], "WANDB_PROJECT")
        if env.get("WANDB_PROJECT")
        else wandb.project,
        entity=_name(env["WANDB_ENTITY"], "WANDB_ENTITY")
        if env.get("WANDB_ENTITY")
        else wandb.entity,
        base_url=env.get("WANDB_BASE_URL") or wandb.base_url,
    )

    home_value = home or env.get("HARNESS_HOME")
    if home_value:
        home_path = Path(home_value).expanduser()
        home_path = home_path if home_path.is_absolute() else cwd / home_path
    else:
        home_path = (git.main_root() or root) / ".harness"
    if home_path.exists() and not home_path.is_dir():
        raise ConfigError(f"HARNESS_HOME: not a directory: {home_path}")
    return Settings(root=root, home=home_path.resolve(), source=source, **values)
