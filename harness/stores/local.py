"""The local run store under ``HARNESS_HOME`` (default ``.harness/`` at the repo root).

Layout (docs/manifest.md)::

    runs/<run-id>/harness.json   manifest: identity, state, config, summary
    runs/<run-id>/curves.json    downsampled curves of the declared metrics
    runs/<run-id>/output.log     full console log (written by the local launcher)
    runs/<run-id>/wandb/…        the untouched W&B offline run

A run directory without a readable manifest is still listed: its W&B offline run is read
with ``wandb leet inspect`` in a subprocess (never by importing wandb here), or it is shown
with state ``unknown``. Problems become ``warnings``, never tracebacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..manifest import CURVES_FILE, MANIFEST_FILE, now_iso, read_json, update_manifest
from ..runs import Run, RunState

__all__ = ["LocalStore", "find_wandb_run_dir"]

LEET_TIMEOUT_S = 60


def find_wandb_run_dir(run_dir: Path) -> Path | None:
    """The W&B offline run folder inside a run directory (or the directory itself)."""
    if any(run_dir.glob("run-*.wandb")):
        return run_dir
    candidates = sorted(run_dir.glob("wandb/*run-*/run-*.wandb")) + sorted(
        run_dir.glob("*run-*/run-*.wandb")
    )
    return candidates[-1].parent if candidates else None


def _int(value: object) -> int | None:
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


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def run_from_manifest(run_id: str, data: Mapping[str, Any]) -> Run:
    """Build a Run from manifest fields, tolerating missing or mistyped optional ones."""
    config = _mapping(data.get("config"))
    tags = data.get("tags")
    return Run(
        id=run_id,
        state=RunState.parse(data.get("state")),
        branch=_str(data.get("branch")) or _str(config.get("branch")),
        commit=_str(data.get("commit")) or _str(config.get("commit")),
        seed=_int(data.get("seed")) if data.get("seed") is not None else _int(config.get("seed")),
        group=_str(data.get("group")),
        name=_str(data.get("name")),
        url=_str(data.get("url")),
        exit_code=_int(data.get("exit_code")),
        reason=_str(data.get("reason")),
        created_at=_str(data.get("created_at")),
        ended_at=_str(data.get("ended_at")),
        config=config,
        summary=_mapping(data.get("summary")),
        tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        reported_at=_str(data.get("reported_at")),
    )


def _wandb_cli() -> str | None:
    beside = Path(sys.executable).parent / "wandb"
    return str(beside) if beside.exists() else shutil.which("wandb")


def read_wandb_offline(run_id: str, wandb_dir: Path) -> Run:
    """Read a W&B offline run with ``wandb leet inspect --summary --json``."""
    cli = _wandb_cli()
    if cli is None:
        raise ValueError("the wandb command is not installed")
    env = {**os.environ, "WANDB_ERROR_REPORTING": "false", "WANDB_MODE": "offline"}
    try:
        done = subprocess.run(
            [cli, "leet", "inspect", "--summary", "--json", str(wandb_dir)],
            capture_output=True,
            text=True,
            timeout=LEET_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValueError(f"wandb leet inspect took over {LEET_TIMEOUT_S}s") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"wandb leet inspect failed: {detail}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise ValueError("wandb leet inspect printed no JSON") from exc
    summary = {k: v for k, v in _mapping(data.get("summary")).items() if not k.startswith("_")}
    return run_from_manifest(
        run_id,
        {
            "state": data.get("state"),
            "exit_code": data.get("exit_code"),
            "created_at": data.get("start_time"),
            "name": data.get("name"),
            "config": data.get("config"),
            "summary": summary,
            "tags": data.get("tags"),
        },
    )


class LocalStore:
    """Reads runs from a local store directory. Writes only the ``reported_at`` mark (the
    launcher and tracking write everything else)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runs_dir = home / "runs"
        self.warnings: list[str] = []
        self._cache: dict[str, Run] | None = None

    def _load(self, run_dir: Path) -> Run:
        run_id = run_dir.name
        manifest = run_dir / MANIFEST_FILE
        problem = "has no harness.json"
        if manifest.exists():
            try:
                return run_from_manifest(run_id, read_json(manifest))
            except (ValueError, OSError) as exc:
                problem = f"harness.json is unreadable: {exc}"
        wandb_dir = find_wandb_run_dir(run_dir)
        if wandb_dir is None:
            self.warnings.append(f"run {run_id}: {problem} and no W&B run; shown as unknown")
            return Run(id=run_id, state=RunState.UNKNOWN, reason=problem)
        try:
            run = read_wandb_offline(run_id, wandb_dir)
        except (ValueError, OSError) as exc:
            self.warnings.append(f"run {run_id}: {problem}; W&B run unreadable ({exc})")
            return Run(id=run_id, state=RunState.UNKNOWN, reason=problem)
        if manifest.exists():
            self.warnings.append(f"run {run_id}: {problem}; read from its W&B run instead")
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
            self.warnings.append(f"run {run_id}: curves.json is unreadable: {exc}")
            return []
        curve: list[tuple[int, float]] = []
        for point in points if isinstance(points, list) else []:
            if (
                isinstance(point, list)
                and len(point) == 2
                and isinstance(point[0], int)
                and isinstance(point[1], (int, float))
            ):
                curve.append((point[0], float(point[1])))
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
