"""A W&B offline run, read from its transaction log with wandb's own record schema.

wandb writes an offline run as ``run-<id>.wandb``: a log in LevelDB's documented log format
(32 KiB blocks of framed chunks) after a 7-byte ``:W&B`` header, each record one protobuf
``Record`` of wandb's schema (``wandb.proto.wandb_internal_pb2``). wandb 0.31's Python
package has no reader of this log any more, and its Go reader (``wandb leet inspect
--json``) only prints every record as JSON: on a 100,000-row run that printing alone takes
about 2.5 times as long as this whole reading (benchmarks/fill_manifest.py), and the JSON
would still have to be parsed.

One streaming pass keeps what the local store needs: the run's identity (id, group, tags,
name), its config, W&B's summary (the latest value of every key), the exit code, and for a
few chosen keys their last, lowest and highest values and a downsampled curve. Memory stays
bounded however long the run (nothing is kept per row), and a log cut short by a crash reads
up to its last whole record. This is an adapter: wandb is imported when a run is read.
"""

from __future__ import annotations

import json
import math
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..manifest import CurveBuffer

__all__ = ["LOG_HEADER", "TOO_LONG", "OfflineRun", "Series", "find_log", "read_offline_run"]

LOG_HEADER = b":W&B\xe1\xbe"  # then one version byte, 0 in every release so far
HEADER_SIZE = len(LOG_HEADER) + 1
_BLOCK = 32 * 1024
# Each chunk: its CRC-32 (of the kind byte, then the data), length and kind: a whole
# record, or the first, a middle or the last part of one split across blocks.
_FRAME = struct.Struct("<IHB")
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
READ_TIMEOUT_S = 600.0  # a run with millions of rows reads in well under this
MAX_RECORD = 64 * 1024 * 1024  # a longer record is skipped, never held
# What is kept of a config or summary however a script fills it: the manifest keeps 200
# keys of 2,000 characters, so more would only cost memory.
MAX_KEYS = 10_000
MAX_VALUE = 64 * 1024  # characters of one value's JSON
TOO_LONG = "(a value too long to keep)"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass
class Series:
    """What one logged key did over the run: count, last, lowest, highest, and its curve."""

    curve: CurveBuffer = field(default_factory=CurveBuffer)
    count: int = 0
    last: float | None = None
    low: float | None = None
    high: float | None = None

    def add(self, step: int, value: float) -> None:
        self.curve.add(step, value)
        self.count += 1
        self.last = value
        if math.isfinite(value):
            self.low = value if self.low is None else min(self.low, value)
            self.high = value if self.high is None else max(self.high, value)


def _number(value: object) -> float | None:
    """A logged number (W&B writes NaN and infinities as the strings "NaN", "Infinity")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer past a float's range
            return None
    if isinstance(value, str):
        return _NONFINITE.get(value)
    return None


@dataclass
class OfflineRun:
    run_id: str | None = None
    group: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    rows: int = 0
    exit_code: int | None = None
    ended: bool = False  # an exit record was written (a killed run has none)
    producer: str | None = None  # the wandb release that wrote the run, when it says
    skipped: int = 0  # records that could not be parsed, or were too long


def find_log(wandb_dir: Path) -> Path | None:
    """The ``run-*.wandb`` log of an offline run folder."""
    logs = sorted(wandb_dir.glob("run-*.wandb"))
    return logs[-1] if logs else None


def _chunks(handle: BinaryIO) -> Iterator[bytes | None]:
    """The log's records as bytes, one block at a time after the file header; None for each
    record that cannot be used (a bad checksum, a corrupt frame, longer than MAX_RECORD).

    A file that ends inside a record (the writer was killed) ends the records there.
    """
    parts: list[bytes] | None = None  # the record being put together from its chunks
    size = 0
    skipping = False  # inside a record already given up: its chunks are passed over
    offset = HEADER_SIZE  # where ``block`` starts within its 32 KiB block
    block = handle.read(_BLOCK - offset)
    while block:
        full = offset + len(block) == _BLOCK
        at = 0
        while _BLOCK - offset - at >= _FRAME.size and len(block) - at >= _FRAME.size:
            checksum, length, kind = _FRAME.unpack_from(block, at)
            if kind == 0 and length == 0:  # the zero padding at a block's end
                break
            start = at + _FRAME.size
            at = start + length
            if at > len(block):
                if not full:
                    return  # cut short: the writer died mid-record
                parts, skipping = None, False
                yield None  # a corrupt length: on to the next block
                break
            chunk = block[start:at]
            if zlib.crc32(chunk, zlib.crc32(bytes((kind,)))) != checksum or kind > _LAST:
                if not skipping:  # counted once, with the record it was part of
                    yield None
                parts, skipping = None, kind in (_FIRST, _MIDDLE)
                continue
            if kind in (_FULL, _FIRST):
                if parts is not None:  # the previous record never got its last chunk
                    yield None
                parts, skipping = None, False
                if kind == _FULL:
                    yield chunk
                else:
                    parts, size = [chunk], length
                continue
            if skipping or parts is None:  # the rest of a record given up (or an orphan)
                skipping = skipping and kind == _MIDDLE
                continue
            size += length
            if size > MAX_RECORD:
                parts, skipping = None, kind == _MIDDLE
                yield None
                continue
            parts.append(chunk)
            if kind == _LAST:
                yield b"".join(parts)
                parts = None
        block = handle.read(_BLOCK)
        offset = 0


def _open(log: Path) -> BinaryIO:
    try:
        return open(log, "rb")
    except OSError as exc:
        raise ValueError(f"cannot open {log.name!r}: {exc.strerror}") from exc


def _keep(summary: dict[str, str], key: str, raw: str) -> None:
    """A summary value's JSON, within MAX_KEYS keys and MAX_VALUE characters."""
    if key in summary or len(summary) < MAX_KEYS:
        summary[key] = raw if len(raw) <= MAX_VALUE else json.dumps(TOO_LONG)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's limit
        return text


def _key(item: Any) -> str:
    """An item's key: wandb-core writes it as ``nested_key`` parts, older writers as ``key``."""
    parts = item.nested_key
    if len(parts) == 1:  # the common case, three times cheaper than a join
        return str(parts[0])
    return ".".join(parts) if parts else str(item.key)


def read_offline_run(
    wandb_dir: Path, keys: Iterable[str] = (), *, timeout_s: float = READ_TIMEOUT_S
) -> OfflineRun:
    """Read the offline run in ``wandb_dir``, following ``keys`` through its history.

    Raises ValueError with a one-line reason when there is no log or it is not one.
    """
    log = find_log(wandb_dir)
    if log is None:
        raise ValueError(f"no run-*.wandb log in {wandb_dir.name!r}")
    if not log.is_file():  # a FIFO or a device would block or never end
        raise ValueError(f"{log.name!r} is not a regular file")
    try:
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError as exc:  # pragma: no cover - wandb is a dependency of the harness
        raise ValueError(f"cannot read W&B runs: {exc}") from exc
    wanted = set(keys)
    run = OfflineRun()
    summary: dict[str, str] = {}  # raw JSON, parsed once at the end
    record = pb.Record()  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout_s
    with _open(log) as handle:
        header = handle.read(HEADER_SIZE)
        if not header:
            raise ValueError(f"{log.name!r} is empty: the run wrote nothing to it")
        if header[: len(LOG_HEADER)] != LOG_HEADER:
            raise ValueError(f"{log.name!r} is not a W&B run log")
        for count, data in enumerate(_chunks(handle)):
            if count % 4096 == 0 and time.monotonic() > deadline:
                raise ValueError(f"reading {log.name!r} took over {timeout_s:g}s")
            if data is None:
                run.skipped += 1
                continue
            try:
                record.ParseFromString(data)
            except DecodeError:
                run.skipped += 1
                continue
            kind = record.WhichOneof("record_type")
            if kind == "history":
                _history(run, record.history, wanted)
            elif kind == "summary":  # as many as history rows: kept tight
                for item in record.summary.update:
                    _keep(summary, _key(item), item.value_json)
                for item in record.summary.remove:
                    summary.pop(_key(item), None)
            elif kind == "config":
                _config(run.config, record.config)
            elif kind == "run":
                _run(run, record.run)
            elif kind == "exit":
                run.exit_code, run.ended = int(record.exit.exit_code), True
            elif kind == "header" and record.header.HasField("version_info"):
                run.producer = record.header.version_info.producer or None
    run.summary = {k: _value(v) for k, v in summary.items()}
    if run.run_id is None and run.rows == 0:
        raise ValueError(f"{log.name!r} holds no run")
    return run


def _history(run: OfflineRun, history: Any, wanted: set[str]) -> None:
    run.rows += 1
    step: int | None = history.step.num if history.HasField("step") else None
    found: list[tuple[str, float]] = []
    for item in history.item:
        key = _key(item)
        if key in wanted:
            number = _number(_value(item.value_json))
            if number is not None:
                found.append((key, number))
        elif key == "_step" and step is None:
            number = _number(_value(item.value_json))
            step = int(number) if number is not None and math.isfinite(number) else None
    if found:
        at = run.rows - 1 if step is None else step
        for key, number in found:
            series = run.series.get(key)
            if series is None:
                series = run.series[key] = Series()
            series.add(at, number)


def _config(config: dict[str, Any], record: Any) -> None:
    for item in record.update:
        key = _key(item)
        if key in config or len(config) < MAX_KEYS:
            raw = item.value_json
            config[key] = _value(raw) if len(raw) <= MAX_VALUE else TOO_LONG
    for item in record.remove:
        config.pop(_key(item), None)


def _run(run: OfflineRun, record: Any) -> None:
    _config(run.config, record.config)
    run.run_id = record.run_id or run.run_id
    run.group = record.run_group or run.group
    run.name = record.display_name or run.name
    if record.tags:
        run.tags = tuple(record.tags)
