"""The local run store under ``HARNESS_HOME`` (default ``.harness/`` at the repo root).

Layout (docs/manifest.md)::

    runs/<run-id>/harness.json   manifest: identity, state, config, summary
    runs/<run-id>/curves.json    downsampled curves of the declared metrics
    runs/<run-id>/output.log     full console log (written by the local launcher)
    runs/<run-id>/wandb/…        the untouched W&B offline run

After a launched run ends, ``fill_from_wandb`` fills its manifest from the W&B offline run
it wrote when harness.tracking did not (a plain ``wandb``, Hugging Face or Lightning
script). A run directory without a readable manifest is still listed: its W&B offline run is
read (wandb is imported only then), or it is shown with state ``unknown``. Problems become
``warnings``, never tracebacks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..inert import one_line
from ..liveness import owner_gone
from ..manifest import (
    CURVES_FILE,
    EXTRA_CURVES,
    FROM_WANDB,
    MANIFEST_FILE,
    TRACKED,
    now_iso,
    read_json,
    update_manifest,
    write_json_atomic,
)
from ..runs import MetricSpec, Run, RunState, public, record_int, record_number, record_str
from .offline import OfflineRun, read_offline_run

__all__ = [
    "LocalStore",
    "fill_from_wandb",
    "find_wandb_run_dir",
    "run_from_manifest",
    "run_from_offline",
    "wandb_run_dirs",
]


_RUN_FOLDER = re.compile(r"run-(\d{8}_\d{6})-")


def wandb_run_dirs(run_dir: Path) -> list[Path]:
    """The W&B offline run folders inside a run directory, oldest first (their names begin
    with the start time)."""
    if any(run_dir.glob("run-*.wandb")):
        return [run_dir]
    found = {p.parent for p in run_dir.glob("wandb/*run-*/run-*.wandb")}
    found |= {p.parent for p in run_dir.glob("*run-*/run-*.wandb")}
    return sorted(found, key=_started)


def _started(folder: Path) -> tuple[str, str]:
    """A W&B run folder's start time from its name (``offline-run-20261201_095212-<id>``)."""
    match = _RUN_FOLDER.search(folder.name)
    return (match.group(1) if match else "", folder.name)


def find_wandb_run_dir(run_dir: Path) -> Path | None:
    """The newest W&B offline run folder inside a run directory (or the directory itself)."""
    folders = wandb_run_dirs(run_dir)
    return folders[-1] if folders else None


MAX_WARNINGS = 20


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def run_from_manifest(run_id: str, data: Mapping[str, Any]) -> Run:
    """Build a Run from manifest fields, tolerating missing or mistyped optional ones."""
    config = public(_mapping(data.get("config")))
    tags = data.get("tags")
    warnings = data.get("warnings")
    warnings = warnings[:MAX_WARNINGS] if isinstance(warnings, list) else []
    sources = _mapping(data.get("metric_sources"))
    return Run(
        id=run_id,
        state=RunState.parse(data.get("state")),
        branch=record_str(data.get("branch")) or record_str(config.get("branch")),
        commit=record_str(data.get("commit")) or record_str(config.get("commit")),
        seed=record_int(data.get("seed"))
        if data.get("seed") is not None
        else record_int(config.get("seed")),
        group=record_str(data.get("group")),
        name=record_str(data.get("name")),
        url=record_str(data.get("url")),
        exit_code=record_int(data.get("exit_code")),
        reason=record_str(data.get("reason")),
        created_at=record_str(data.get("created_at")),
        ended_at=record_str(data.get("ended_at")),
        config=config,
        summary=_mapping(data.get("summary")),
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        reported_at=record_str(data.get("reported_at")),
        metric_sources={str(k): v for k, v in sources.items() if isinstance(v, str)},
        values_from=record_str(data.get("values_from")),
        # A tracked script can write anything here: one inert line each, bounded.
        warnings=tuple(one_line(w, 500) for w in warnings if isinstance(w, str)),
    )


def run_from_offline(run_id: str, offline: OfflineRun) -> Run:
    """A Run from a W&B offline run alone (a run folder without a manifest)."""
    state = "finished" if offline.exit_code == 0 else "failed" if offline.ended else "crashed"
    return run_from_manifest(
        run_id,
        {
            "state": state,
            "exit_code": offline.exit_code,
            "name": offline.name,
            "group": offline.group,
            "config": offline.config,
            "summary": public(offline.summary),
            "tags": list(offline.tags),
        },
    )


def _first(values: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``values`` with ``keys`` (those it has) first: the manifest keeps 200 items."""
    ahead = {key: values[key] for key in keys if key in values}
    return ahead | {k: v for k, v in values.items() if k not in ahead}


def _filled_summary(
    offline: OfflineRun, metrics: Sequence[MetricSpec]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The manifest summary of a run read from W&B, and where each declared metric came from.

    A declared metric logged during training is ``{"last": v, "max"|"min": best}`` (the
    shape harness.tracking writes); one never logged but set in the summary (a script's
    ``wandb.run.summary[name] = v``) is that plain value, its source ``summary``.
    """
    declared = [key for m in metrics for key in (m.name, f"final/{m.name}")]
    summary = _first(public(offline.summary), declared)
    sources: dict[str, str] = {}
    for spec in metrics:
        series = offline.series.get(spec.name)
        if series is not None and series.count:
            best = series.high if spec.goal == "maximize" else series.low
            entry: dict[str, Any] = {"last": series.last}
            if best is not None:
                entry["max" if spec.goal == "maximize" else "min"] = best
            summary[spec.name] = entry
        elif spec.name in summary:
            sources[spec.name] = "summary"
    return summary, sources


def _identity_warnings(manifest: Mapping[str, Any], offline: OfflineRun) -> list[str]:
    """Where the script replaced the identity the launcher handed it."""
    found = []
    run_id, group = manifest.get("id"), manifest.get("group")
    if offline.run_id and run_id and offline.run_id != run_id:
        found.append(
            "the script chose its own W&B run id (wandb.init(id=…)): W&B knows the run by"
            " another id than the harness"
        )
    if group and offline.group != group:
        chosen = f"its own group {offline.group!r}" if offline.group else "no group"
        found.append(
            f"the script set {chosen} (wandb.init(group=…)), not {group!r}: its seeds are"
            " not grouped together in W&B"
        )
    seed, logged = manifest.get("seed"), offline.config.get("seed")
    own_seed = isinstance(logged, int) and not isinstance(logged, bool) and logged != seed
    if isinstance(seed, int) and own_seed:
        found.append(
            f"the script's config says seed {logged}, not the launcher's seed: it picks its"
            " own seed (pass {seed} in launch.args)"
        )
    return found


def fill_from_wandb(
    run_dir: Path, metrics: Sequence[MetricSpec], *, state: RunState | None = None
) -> list[str]:
    """Fill a launched run's manifest from the W&B offline run it wrote, unless
    harness.tracking already did: config, summary, curves of the declared metrics, the
    identity the run recorded, and warnings. Returns the warnings. ``state``: how the run
    ended, when the launcher has not written it yet (it writes the end state last)."""
    manifest_path = run_dir / MANIFEST_FILE
    manifest = read_json(manifest_path) if manifest_path.exists() else {}
    if manifest.get("values_from") == TRACKED:
        return []
    folders = wandb_run_dirs(run_dir)
    if not folders:
        warnings = (
            ["the run wrote no W&B run: nothing it logged can be compared"]
            if (state.value if state else manifest.get("state")) == RunState.FINISHED.value
            else []
        )
        update_manifest(run_dir, warnings=warnings)
        return warnings
    own = [f for f in folders if f.name.endswith(f"-{run_dir.name}")]
    chosen = (own or folders)[-1]
    warnings = []
    if len(folders) > 1:
        warnings.append(f"the run wrote {len(folders)} W&B runs; read {chosen.name!r}")
    keys = [*(m.name for m in metrics), *EXTRA_CURVES]
    try:
        offline = read_offline_run(chosen, keys)
    except ValueError as exc:
        warnings.append(f"its W&B run is unreadable: {exc}")
        update_manifest(run_dir, warnings=warnings)
        return warnings
    summary, sources = _filled_summary(offline, metrics)
    warnings += _identity_warnings(manifest, offline)
    if offline.skipped:
        warnings.append(f"{offline.skipped} record(s) of its W&B run could not be read")
    curves = {key: s.curve.snapshot() for key, s in offline.series.items() if s.count}
    write_json_atomic(run_dir / CURVES_FILE, curves, indent=None)
    update_manifest(
        run_dir,
        config=_first(public(offline.config), ("branch", "commit", "seed", "group")),
        summary=summary,
        metric_sources=sources,
        values_from=FROM_WANDB,
        wandb_run_dir=str(chosen.relative_to(run_dir)),
        wandb_run_id=offline.run_id,
        wandb_version=(offline.producer or "").split("+")[0] or None,
        history_rows=offline.rows,
        warnings=warnings,
    )
    return warnings


def _owner_checked(run: Run, data: Mapping[str, Any]) -> Run:
    """A running run whose owner (its launcher, or the script nothing launched) is provably
    gone is crashed: it can never end on its own."""
    if run.state is not RunState.RUNNING or not owner_gone(data.get("owner")):
        return run
    owner = data["owner"]
    who = "launcher" if data.get("launcher") == "local" else "process"
    reason = f"its {who} is gone (pid {owner['pid']} on {owner['host']} no longer runs)"
    return replace(run, state=RunState.CRASHED, reason=reason)


class LocalStore:
    """Reads runs from a local store directory. Writes only the ``reported_at`` mark (the
    launcher and tracking write everything else)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runs_dir = home / "runs"
        self.warnings: list[str] = []
        self._cache: dict[str, Run] | None = None

    def _warn(self, text: str) -> None:
        """A warning, once: reading the store again (after marking runs) repeats none."""
        if text not in self.warnings:
            self.warnings.append(text)

    def _load(self, run_dir: Path) -> Run:
        run_id = run_dir.name
        manifest = run_dir / MANIFEST_FILE
        problem = "has no harness.json"
        if manifest.exists():
            try:
                data = read_json(manifest)
                return _owner_checked(run_from_manifest(run_id, data), data)
            except (ValueError, OSError) as exc:
                problem = f"harness.json is unreadable: {exc}"
        wandb_dir = find_wandb_run_dir(run_dir)
        if wandb_dir is None:
            self._warn(f"run {run_id}: {problem} and no W&B run; shown as unknown")
            return Run(id=run_id, state=RunState.UNKNOWN, reason=problem)
        try:
            run = run_from_offline(run_id, read_offline_run(wandb_dir))
        except (ValueError, OSError) as exc:
            self._warn(f"run {run_id}: {problem}; W&B run unreadable ({exc})")
            return Run(id=run_id, state=RunState.UNKNOWN, reason=problem)
        if manifest.exists():
            self._warn(f"run {run_id}: {problem}; read from its W&B run instead")
        return run

    def _all(self) -> dict[str, Run]:
        if self._cache is None:
            found: dict[str, Run] = {}
            if self.runs_dir.is_dir():
                try:
                    entries = sorted(p for p in self.runs_dir.iterdir() if p.is_dir())
                except OSError as exc:
                    raise StoreError(f"cannot read {self.runs_dir}: {exc.strerror}") from exc
                for run_dir in entries:
                    if not run_dir.name.startswith("."):
                        found[run_dir.name] = self._load(run_dir)
            self._cache = found
        return self._cache

    def runs(
        self, *, branch: str | None = None, states: Iterable[RunState] | None = None
    ) -> list[Run]:
        wanted = set(states) if states is not None else None
        selected = [
            run
            for run in self._all().values()
            if (branch is None or run.branch == branch) and (wanted is None or run.state in wanted)
        ]
        return sorted(selected, key=lambda r: (r.created_at or "", r.id), reverse=True)

    def read(self, run_id: str) -> Run | None:
        """One run read afresh from its folder (no cache), None when it has none yet."""
        run_dir = self.runs_dir / run_id
        return self._load(run_dir) if run_dir.is_dir() else None

    def get(self, run_id: str) -> Run:
        run = self._all().get(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in {self.runs_dir}")
        return run

    def run_dir(self, run_id: str) -> Path:
        self.get(run_id)
        return self.runs_dir / run_id

    def curve(self, run_id: str, metric: str) -> list[tuple[int, float]]:
        path = self.run_dir(run_id) / CURVES_FILE
        if not path.exists():
            return []
        try:
            points = read_json(path).get(metric, [])
        except (ValueError, OSError) as exc:
            self._warn(f"run {run_id}: curves.json is unreadable: {exc}")
            return []
        curve: list[tuple[int, float]] = []
        for point in points if isinstance(points, list) else []:
            if (
                isinstance(point, list)
                and len(point) == 2
                and isinstance(point[0], int)
                and not isinstance(point[0], bool)
                and (value := record_number(point[1])) is not None  # NaN would break a chart
            ):
                curve.append((point[0], value))
        return curve

    def mark_reported(self, run_ids: Iterable[str]) -> None:
        when = now_iso()
        for run_id in run_ids:
            update_manifest(self.run_dir(run_id), reported_at=when)
        self._cache = None

    def log_path(self, run_id: str) -> Path | None:
        run_dir = self.run_dir(run_id)
        if (run_dir / "output.log").exists():
            return run_dir / "output.log"
        wandb_dir = find_wandb_run_dir(run_dir)
        if wandb_dir and (wandb_dir / "files" / "output.log").exists():
            return wandb_dir / "files" / "output.log"
        return None

    def log_tail(self, run_id: str, lines: int = 50) -> list[str]:
        path = self.log_path(run_id)
        return tail_lines(path, lines) if path else []


def tail_lines(
    path: Path, lines: int, *, block: int = 64 * 1024, max_bytes: int = 1024 * 1024
) -> list[str]:
    """The last ``lines`` lines of a file, reading at most its last ``max_bytes``.

    A log of any size (hundreds of megabytes, or one endless line of progress bars) costs
    one bounded read from its end; a line cut by the bound comes back as its tail.
    """
    if lines <= 0:
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        floor = max(0, size - max_bytes)
        data = b""
        while size > floor and data.count(b"\n") <= lines:
            step = min(block, size - floor)
            size -= step
            handle.seek(size)
            data = handle.read(step) + data
    text = data.decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]
