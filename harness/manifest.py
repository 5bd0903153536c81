"""The ``harness.json`` run manifest and its ``curves.json`` sibling: the local store's contract.

Two writers share a manifest (see docs/manifest.md): the local launcher creates it before the
process starts and finalizes state and exit code from the exit status; ``harness.tracking``
fills in config, summary and curves while the run goes. Every write is atomic (temp file in
the same directory, then rename), so a reader sees the old or the new file, never half of one.
Sizes are bounded so that reading hundreds of manifests stays fast. Core: no wandb import.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import string
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bounded import parse_json

__all__ = [
    "CURVES_FILE",
    "CURVE_POINTS",
    "EXTRA_CURVES",
    "FROM_WANDB",
    "MANIFEST_FILE",
    "SCHEMA_VERSION",
    "TRACKED",
    "CurveBuffer",
    "bounded",
    "new_run_id",
    "now_iso",
    "parse_time",
    "read_json",
    "update_manifest",
    "write_json_atomic",
    "write_text_atomic",
]

MANIFEST_FILE = "harness.json"
CURVES_FILE = "curves.json"
SCHEMA_VERSION = 1
CURVE_POINTS = 256  # per metric, in curves.json
# Besides the declared metrics, these curves are kept for the run report (loss trend,
# gradient-norm spikes), whoever fills the manifest.
EXTRA_CURVES = ("train/loss", "diagnostics/grad_norm")
# ``values_from``: who wrote config, summary and curves. harness.tracking while the run went,
# or the launcher from the run's W&B offline log after the process ended.
TRACKED = "harness.tracking"
FROM_WANDB = "wandb"
MAX_STRING = 2000
MAX_ITEMS = 200
MAX_DEPTH = 6


_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    """A run id that is also a valid W&B run id: 8 characters of [a-z0-9]."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_time(value: object) -> datetime | None:
    """A record's ISO 8601 time (UTC when it names no zone); None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def bounded(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy with long strings cut, long lists and dicts trimmed, NaN/inf as text."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_ITEMS]
        return {str(k)[:MAX_STRING]: bounded(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [bounded(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    return bounded(str(value), depth)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see a partial file, and a crash
    leaves the old file or the new one (flushed to disk before it is renamed over)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the rename: a crash leaves old or new
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 1) -> None:
    write_text_atomic(path, json.dumps(data, indent=indent, allow_nan=False) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object. Raises ValueError with a one-line reason when it is not one (or
    nests too deeply); OSError when it cannot be read (a folder, say)."""
    try:
        data = parse_json(path.read_text(encoding="utf-8"))  # DataError is a ValueError
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8 text") from exc
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def update_manifest(run_dir: Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the run's manifest (creating it) and write it atomically."""
    path = run_dir / MANIFEST_FILE
    try:
        manifest = read_json(path) if path.exists() else {}
    except ValueError:
        manifest = {}  # a damaged manifest is replaced rather than merged into
    manifest.setdefault("schema_version", SCHEMA_VERSION)
    manifest.setdefault("id", run_dir.name)
    manifest.update(bounded(changes))
    manifest["updated_at"] = now_iso()
    write_json_atomic(path, manifest)
    return manifest


class CurveBuffer:
    """Keeps at most ``limit`` evenly spaced points of a series of any length, plus the last.

    Points are kept at a stride that doubles whenever the buffer fills, so memory and the
    written curve stay bounded however long the run is.
    """

    def __init__(self, limit: int = CURVE_POINTS) -> None:
        self.limit = max(2, limit - 1)  # room for the last point
        self.points: list[tuple[int, float]] = []
        self.stride = 1
        self.seen = 0
        self.last: tuple[int, float] | None = None

    def add(self, step: int, value: float) -> None:
        point = (int(step), float(value))
        self.last = point
        if self.seen % self.stride == 0:
            self.points.append(point)
            if len(self.points) > self.limit:
                self.points = self.points[::2]
                self.stride *= 2
        self.seen += 1

    def snapshot(self) -> list[list[float | int | None]]:
        points = list(self.points)
        if self.last is not None and (not points or points[-1] != self.last):
            points.append(self.last)
        return [[s, v if math.isfinite(v) else None] for s, v in points]
