"""The local store: manifests written atomically, read back; damaged input never crashes."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from harness.errors import StoreError
from harness.manifest import (
    CURVE_POINTS,
    MANIFEST_FILE,
    CurveBuffer,
    bounded,
    update_manifest,
    write_json_atomic,
)
from harness.runs import RunState
from harness.stores.local import LocalStore, tail_lines

from .helpers import PLAIN_WANDB_RUN, acc, offline_env, run_python, write_run


def test_empty_or_missing_store_has_no_runs(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "nothing-here")
    assert store.runs() == []
    assert store.warnings == []
    with pytest.raises(StoreError, match="no run 'abc'"):
        store.get("abc")


def test_find_runs_by_branch_and_state_newest_first(tmp_path: Path) -> None:
    write_run(tmp_path, "r1", created_at="2026-01-01T00:00:00+00:00", summary=acc(0.9))
    write_run(tmp_path, "r2", branch="exp/a", created_at="2026-01-02T00:00:00+00:00")
    write_run(
        tmp_path,
        "r3",
        branch="exp/a",
        state="failed",
        exit_code=1,
        created_at="2026-01-03T00:00:00+00:00",
    )
    store = LocalStore(tmp_path)
    assert [r.id for r in store.runs()] == ["r3", "r2", "r1"]
    assert [r.id for r in store.runs(branch="exp/a")] == ["r3", "r2"]
    assert [r.id for r in store.runs(states=[RunState.FAILED])] == ["r3"]
    run = store.get("r1")
    assert run.branch == "main" and run.commit == "a" * 40 and run.seed == 0
    assert run.metric("val/accuracy") == 0.9


def test_manifest_updates_merge_and_leave_no_temp_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    update_manifest(run_dir, state="running", branch="main")
    update_manifest(run_dir, state="finished", exit_code=0)
    data = json.loads((run_dir / MANIFEST_FILE).read_text())
    assert data["schema_version"] == 1 and data["id"] == "r1"
    assert (data["state"], data["branch"], data["exit_code"]) == ("finished", "main", 0)
    assert [p.name for p in run_dir.iterdir()] == [MANIFEST_FILE]


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"ok": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"bad": float("nan")})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_manifest_size_is_bounded(tmp_path: Path) -> None:
    huge = {"text": "x" * 100_000, "items": list(range(10_000)), "nan": float("nan")}
    nested: dict[str, object] = {}
    cursor = nested
    for _ in range(20):
        cursor["deeper"] = {}
        cursor = cursor["deeper"]  # type: ignore[assignment]
    run_dir = write_run(tmp_path, "big", config={"huge": huge, "nested": nested})
    assert (run_dir / MANIFEST_FILE).stat().st_size < 20_000
    assert bounded(float("inf")) == "inf"


@pytest.mark.parametrize("length", [1, 10, CURVE_POINTS, CURVE_POINTS + 1, 10_000])
def test_curves_are_downsampled_evenly_and_keep_the_last_point(length: int) -> None:
    buffer = CurveBuffer()
    for step in range(length):
        buffer.add(step, step * 0.5)
    points = buffer.snapshot()
    assert len(points) <= CURVE_POINTS
    assert points[0] == [0, 0.0]
    assert points[-1] == [length - 1, (length - 1) * 0.5]
    steps = [p[0] for p in points[:-1]]
    gaps = {b - a for a, b in itertools.pairwise(steps)}  # type: ignore[operator]
    assert len(gaps) <= 1  # evenly spaced


@pytest.mark.parametrize(
    "content",
    ['{"state": "finis', "[1, 2]", "\xff\xfe garbage", ""],
    ids=["half-written", "not-an-object", "not-utf8", "empty"],
)
def test_damaged_manifest_is_a_warning_not_a_crash(tmp_path: Path, content: str) -> None:
    write_run(tmp_path, "good", summary=acc(0.9))
    bad = tmp_path / "runs" / "bad"
    bad.mkdir(parents=True)
    (bad / MANIFEST_FILE).write_bytes(content.encode("latin-1"))
    store = LocalStore(tmp_path)
    runs = {r.id: r for r in store.runs()}
    assert runs["good"].state is RunState.FINISHED
    assert runs["bad"].state is RunState.UNKNOWN
    assert len(store.warnings) == 1 and "run bad: harness.json is unreadable" in store.warnings[0]


def test_mistyped_manifest_fields_are_tolerated(tmp_path: Path) -> None:
    write_run(tmp_path, "odd", seed="seven", state=42, summary=[1, 2], tags="x", exit_code="0")
    run = LocalStore(tmp_path).get("odd")
    assert run.seed is None and run.state is RunState.UNKNOWN and run.summary == {}
    assert run.exit_code == 0 and run.tags == ()


def test_directory_without_anything_is_listed_as_unknown(tmp_path: Path) -> None:
    (tmp_path / "runs" / "empty-dir").mkdir(parents=True)
    store = LocalStore(tmp_path)
    [run] = store.runs()
    assert run.id == "empty-dir" and run.state is RunState.UNKNOWN
    assert "has no harness.json and no W&B run" in store.warnings[0]


@pytest.mark.slow
@pytest.mark.slow
def test_plain_wandb_offline_run_without_manifest_is_read_with_wandb(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "plain1"
    done = run_python(
        PLAIN_WANDB_RUN, cwd=tmp_path, env=offline_env(RUN_DIR=str(run_dir), RUN_ID="plain1")
    )
    assert done.returncode == 0, done.stderr
    store = LocalStore(tmp_path)
    [run] = store.runs()
    assert run.id == "plain1"
    assert run.state is RunState.FINISHED and run.exit_code == 0
    assert run.branch == "exp/plain" and run.commit == "b" * 40
    assert run.metric("val/accuracy") == pytest.approx(0.9)
    assert store.warnings == []
    assert "plain run says hello" in store.log_tail("plain1")


def test_curve_and_log_tail(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "r1")
    write_json_atomic(run_dir / "curves.json", {"val/accuracy": [[0, 0.5], [10, 0.7], "junk"]})
    (run_dir / "output.log").write_text("".join(f"line {i}\n" for i in range(1000)))
    store = LocalStore(tmp_path)
    assert store.curve("r1", "val/accuracy") == [(0, 0.5), (10, 0.7)]
    assert store.curve("r1", "other") == []
    assert store.log_tail("r1", 3) == ["line 997", "line 998", "line 999"]


def test_tail_reads_only_the_end_of_big_logs(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text("x" * 10_000_000 + "\nlast line\n")
    assert tail_lines(path, 1) == ["last line"]


def test_tail_of_one_endless_line_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bars.log"
    with open(path, "wb") as handle:  # 64 MB of progress bar and not one newline
        for _ in range(64):
            handle.write(b"\r" + b"#" * (1024 * 1024 - 1))
    [line] = tail_lines(path, 50, max_bytes=256 * 1024)
    assert len(line) <= 256 * 1024 and set(line) <= {"#", "\r"}


def test_warnings_a_script_could_write_are_one_inert_line_each(tmp_path: Path) -> None:
    write_run(tmp_path, "r1", warnings=[7, "a\x1b[2Jb\nc\x07d", *["x" * 900] * 40])
    [run] = LocalStore(tmp_path).runs()
    assert run.warnings[0] == "a [2Jb c d"  # the escape character is gone, its text is inert
    assert len(run.warnings) == 19 and all(len(w) == 500 for w in run.warnings[1:])
