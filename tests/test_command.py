"""Command lines (placeholders, launch commands, modules), the rank hook, and the reader of
W&B offline logs on the real runs of the shared store."""

from __future__ import annotations

import ast
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from harness.config import LaunchSettings, load_settings
from harness.errors import ConfigError, UsageError
from harness.launchers.command import RunValues, entry_exists, fill_placeholders, run_command
from harness.launchers.local import STARTUP_HOOK
from harness.launchers.wandb import require_job_builder
from harness.manifest import read_json
from harness.stores.local import LocalStore, find_wandb_run_dir
from harness.stores.offline import LOG_HEADER, read_offline_run
from harness.wandb_env import RANK_VARIABLES, branch_tag, process_rank

from .helpers import offline_env

VALUES = RunValues(seed=3, branch="exp/a", commit="c" * 40, run_id="r1d2e3f4")


def test_placeholders_are_replaced_as_literal_text() -> None:
    args = ["--seed", "{seed}", "--name={branch}-{run_id}", "{commit}", "{seed}{seed}"]
    assert fill_placeholders(args, VALUES) == [
        "--seed",
        "3",
        "--name=exp/a-r1d2e3f4",
        "c" * 40,
        "33",
    ]
    # Not str.format: other braces stay, and a value is never expanded again.
    odd = ["{}", "{0}", "{seed!r}", "{{seed}}", "{SEED}", "%(seed)s"]
    assert fill_placeholders(odd, VALUES) == ["{}", "{0}", "{seed!r}", "{3}", "{SEED}", "%(seed)s"]
    tricky = RunValues(seed=0, branch="exp/{seed}", commit="x", run_id="{branch}")
    assert fill_placeholders(["{branch}|{run_id}"], tricky) == ["exp/{seed}|{branch}"]


def test_the_command_wraps_the_entry_point(tmp_path: Path) -> None:
    python = sys.executable
    plain = run_command(
        LaunchSettings(entry_point="train.py", args=("--seed", "{seed}")),
        python=python,
        workdir=tmp_path,
        values=VALUES,
    )
    assert plain == [python, "-u", str(tmp_path / "train.py"), "--seed", "3"]
    torchrun = LaunchSettings(entry_point="t.py", command=("torchrun", "--nproc-per-node", "2"))
    argv = run_command(torchrun, python=python, workdir=tmp_path, values=VALUES)
    # The launch environment's own torchrun, beside its Python, comes first.
    assert argv[0] == str(Path(python).parent / "torchrun") and argv[1:3] == [
        "--nproc-per-node",
        "2",
    ]
    module = LaunchSettings(entry_point="pkg.train", command=("python", "-m"))
    assert run_command(module, python=python, workdir=tmp_path, values=VALUES) == [
        python,
        "-m",
        "pkg.train",
    ]
    assert not entry_exists(module, tmp_path)
    (tmp_path / "pkg" / "train").mkdir(parents=True)
    (tmp_path / "pkg" / "train" / "__main__.py").write_text("")
    assert entry_exists(module, tmp_path)


@pytest.mark.parametrize(
    ("launch", "message"),
    [
        ("{command: ''}", "launch.command: the command is empty"),
        ("{command: /usr/bin/torchrun}", "must be a bare name"),
        ("{command: 'torchrun \"unclosed'}", "launch.command: cannot split"),
        ("{command: [torchrun, 2]}", "launch.command: expected a command"),
        ("{command: python -m, entry_point: pkg/train.py}", "must be a module name"),
        ("{args: [--flag, true]}", "launch.args: expected a list of strings"),
    ],
)
def test_bad_commands_are_one_line_errors(tmp_path: Path, launch: str, message: str) -> None:
    (tmp_path / "harness.yaml").write_text(f"launch: {launch}\n")
    with pytest.raises(ConfigError, match=r"harness\.yaml: launch") as caught:
        load_settings(cwd=tmp_path, env={})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_commands_parse_from_a_string_or_a_list(tmp_path: Path) -> None:
    (tmp_path / "harness.yaml").write_text(
        "launch: {command: accelerate launch --num_processes 2, entry_point: train.py}\n"
    )
    settings = load_settings(cwd=tmp_path, env={})
    assert settings.launch.command == ("accelerate", "launch", "--num_processes", "2")


def run_hook(tmp_path: Path, **env: str) -> str:
    code = "import os; print(os.environ.get('WANDB_MODE', '-'))"
    path = f"{STARTUP_HOOK}:{tmp_path}"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=offline_env(PYTHONPATH=path, WANDB_MODE="offline", **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_rank_hook_disables_wandb_above_rank_0_and_chains(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("print('theirs ran')\n")
    assert run_hook(tmp_path, HARNESS_RUN_ID="r", RANK="0") == "theirs ran\noffline"
    assert run_hook(tmp_path, HARNESS_RUN_ID="r", RANK="1") == "theirs ran\ndisabled"
    assert run_hook(tmp_path, HARNESS_RUN_ID="r", LOCAL_RANK="2").endswith("disabled")
    assert run_hook(tmp_path, HARNESS_RUN_ID="r", PMI_RANK="1").endswith("disabled")
    assert run_hook(tmp_path, RANK="1").endswith("offline")  # not launched: left alone
    assert process_rank({"RANK": "2", "LOCAL_RANK": "0"}) == 2
    assert process_rank({"RANK": "x"}) is None


def test_branch_tags_fit_wandb() -> None:
    assert branch_tag("exp/a,b") == "exp/a-b"
    assert len(branch_tag("exp/" + "x" * 100)) == 64


def test_the_job_builder_checks_its_wandb_release() -> None:
    require_job_builder("0.31.0")
    require_job_builder("0.31.2rc1")
    for other in ("0.30.1", "0.32.0", "1.0", "none"):
        with pytest.raises(UsageError, match=f"this environment has wandb {other}"):
            require_job_builder(other)


def test_the_reader_agrees_with_what_tracking_wrote(ended_runs: tuple[Path, Path]) -> None:
    """harness.tracking keeps last and best values itself; read back from the W&B log they
    are the same, and so are config and identity."""
    _, home = ended_runs
    [run] = LocalStore(home).runs(branch="exp/good")
    run_dir = home / "runs" / run.id
    offline = read_offline_run(find_wandb_run_dir(run_dir), ["val/accuracy", "val/loss"])  # type: ignore[arg-type]
    manifest = read_json(run_dir / "harness.json")
    assert offline.run_id == run.id and offline.group == manifest["group"]
    assert offline.exit_code == 0 and offline.ended and offline.skipped == 0
    series = offline.series["val/accuracy"]
    assert (series.last, series.high) == (
        manifest["summary"]["val/accuracy"]["last"],
        manifest["summary"]["val/accuracy"]["max"],
    )
    assert series.count == 5 and offline.config["branch"] == "exp/good"
    curves = json.loads((run_dir / "curves.json").read_text())
    assert [list(p) for p in series.curve.snapshot()] == curves["val/accuracy"]


def test_a_cut_log_reads_to_its_last_whole_record(
    ended_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    _, home = ended_runs
    [run] = LocalStore(home).runs(branch="exp/good")
    source = find_wandb_run_dir(home / "runs" / run.id)
    assert source is not None
    whole = read_offline_run(source, ["val/accuracy"])
    cut = tmp_path / source.name
    shutil.copytree(source, cut)
    log = next(cut.glob("run-*.wandb"))
    data = log.read_bytes()
    log.write_bytes(data[: len(data) * 2 // 3])  # as a SIGKILL mid-write leaves it
    partial = read_offline_run(cut, ["val/accuracy"])
    assert partial.run_id == whole.run_id and not partial.ended
    assert partial.rows <= whole.rows
    log.write_bytes(b"")  # what a writer that hung before its first record leaves
    with pytest.raises(ValueError, match="is empty: the run wrote nothing"):
        read_offline_run(cut)
    log.write_bytes(b"not a log at all")
    with pytest.raises(ValueError, match="is not a W&B run log"):
        read_offline_run(cut)
    log.write_bytes(LOG_HEADER + b"\x00" + b"\xff" * 300)
    with pytest.raises(ValueError, match="holds no run"):
        read_offline_run(cut)


def write_log(path: Path, records: list[bytes], *, corrupt: int | None = None) -> None:
    """A W&B log of ``records`` framed as wandb frames them (LevelDB's log format, CRC-32 of
    kind + data); ``corrupt``: the index of a record whose first chunk's checksum is wrong."""
    out = bytearray(LOG_HEADER + b"\x00")
    for index, data in enumerate(records):
        first = True
        while True:
            room = 32 * 1024 - len(out) % (32 * 1024)
            if room < 7:
                out += b"\x00" * room
                continue
            piece, data = data[: room - 7], data[room - 7 :]
            kind = (1 if not data else 2) if first else (4 if not data else 3)
            crc = zlib.crc32(piece, zlib.crc32(bytes((kind,))))
            if index == corrupt and first:
                crc ^= 1
            out += struct.pack("<IHB", crc, len(piece), kind) + piece
            first = False
            if not data:
                break
    path.write_bytes(bytes(out))


def history_record(step: int, value: str) -> bytes:
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record()
    record.history.step.num = step
    item = record.history.item.add()
    item.nested_key.append("val/loss")
    item.value_json = value
    return bytes(record.SerializeToString())


def test_records_split_across_blocks_checksums_and_hostile_values(tmp_path: Path) -> None:
    from wandb.proto import wandb_internal_pb2 as pb

    run = pb.Record()
    run.run.run_id = "abcd1234"
    big = pb.Record()  # a config record larger than two blocks: split into chunks
    for key in ("notes", "more"):
        item = big.config.update.add()
        item.key, item.value_json = key, json.dumps("x" * 40_000)
    records = [
        bytes(run.SerializeToString()),
        bytes(big.SerializeToString()),
        history_record(0, "0.5"),
        history_record(1, "1" + "0" * 400),  # an integer past a float's range: no value
        history_record(2, "[" * 100_000),  # nested past the recursion limit: not a number
        history_record(3, '"NaN"'),
        history_record(4, "0.25"),
    ]
    folder = tmp_path / "offline-run-20260101_000000-abcd1234"
    folder.mkdir()
    write_log(folder / "run-abcd1234.wandb", records)
    offline = read_offline_run(folder, ["val/loss"])
    assert offline.run_id == "abcd1234" and offline.skipped == 0 and offline.rows == 5
    assert offline.config["notes"] == offline.config["more"] == "x" * 40_000
    series = offline.series["val/loss"]
    assert (series.count, series.last, series.low, series.high) == (3, 0.25, 0.25, 0.5)
    # One record with a bad checksum is one skipped record, the rest read on.
    write_log(folder / "run-abcd1234.wandb", records, corrupt=1)
    damaged = read_offline_run(folder, ["val/loss"])
    assert damaged.skipped == 1 and "notes" not in damaged.config and damaged.rows == 5


def test_the_rank_lists_agree() -> None:
    """The start-up hook cannot import harness: its copy of the list must stay the same."""
    tree = ast.parse((STARTUP_HOOK / "sitecustomize.py").read_text())
    [ranks] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_RANKS"
    ]
    assert ast.literal_eval(ranks) == RANK_VARIABLES


def test_config_and_summary_are_kept_within_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many keys a script logs, or however long a value, what is held is bounded."""
    from wandb.proto import wandb_internal_pb2 as pb

    from harness.stores import offline

    monkeypatch.setattr(offline, "MAX_KEYS", 3)
    monkeypatch.setattr(offline, "MAX_VALUE", 100)
    run = pb.Record()
    run.run.run_id = "bound001"
    for i in range(5):
        item = run.run.config.update.add()
        item.key, item.value_json = f"k{i}", json.dumps("v" * (10 if i else 500))
    summary = pb.Record()
    for i in range(5):
        item = summary.summary.update.add()
        item.key, item.value_json = f"s{i}", json.dumps(i)
    folder = tmp_path / "offline-run-20260101_000000-bound001"
    folder.mkdir()
    write_log(folder / "run-bound001.wandb", [run.SerializeToString(), summary.SerializeToString()])
    read = read_offline_run(folder)
    assert list(read.config) == ["k0", "k1", "k2"] and read.config["k0"] == offline.TOO_LONG
    assert read.summary == {"s0": 0, "s1": 1, "s2": 2}
