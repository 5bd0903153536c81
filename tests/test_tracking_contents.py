"""The example experiment, tracked offline, read back with W&B's own reader (not ours).

Everything a reviewer needs must be in the run: config with identity and hyperparameters,
train and validation metrics, diagnostics, sample predictions, checkpoints with aliases,
the dataset artifact, and the console output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from harness.runs import RunState
from harness.stores.local import LocalStore, find_wandb_run_dir

from .helpers import REPO_ROOT, built_once, offline_env, session_temp, wandb_records

pytestmark = pytest.mark.slow


def run_example(home: Path) -> None:
    """The digits example, 5 epochs (110 steps), run as the launcher would run it, and the
    records W&B's reader finds in it (``records.json``)."""
    run_dir = home / "runs" / "example1"
    config = home / "harness.yaml"  # the repository's settings, with a shorter cadence
    config.write_text((REPO_ROOT / "harness.yaml").read_text() + "tracking: {log_every: 50}\n")
    env = offline_env(
        HARNESS_CONFIG=str(config),
        HARNESS_HOME=str(home),
        HARNESS_RUN_ID="example1",
        HARNESS_RUN_DIR=str(run_dir),
        HARNESS_BRANCH="exp/example",
        HARNESS_COMMIT="c" * 40,
        HARNESS_SEED="1",
    )
    done = subprocess.run(
        [sys.executable, "experiments/digits/train.py", "--epochs=5", "--hidden=16"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wandb_dir = find_wandb_run_dir(run_dir)
    assert wandb_dir is not None
    (home / "records.json").write_text(json.dumps(wandb_records(wandb_dir)))


@pytest.fixture(scope="session")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The example's run folder and its records, made once for all workers (read-only)."""
    home = built_once(session_temp(tmp_path_factory), "example-run", run_example)
    return home / "runs" / "example1", json.loads((home / "records.json").read_text())


def by_type(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[record["type"]].append(record[record["type"]])
    return grouped


def test_config_has_identity_hyperparameters_and_dataset_digest(example_run: Any) -> None:
    _, records = example_run
    config: dict[str, Any] = {}
    for record in by_type(records)["run"] + by_type(records)["config"]:
        config.update((record.get("config") or record).get("update", {}))
    assert config["branch"] == "exp/example" and config["commit"] == "c" * 40
    assert config["seed"] == 1 and config["group"] == "exp/example@ccccccc"
    assert config["hidden"] == 16 and config["epochs"] == 5 and config["lr"] == 0.05
    dataset = config["datasets"]["sklearn-digits"]
    assert len(dataset["digest"]) == 32 and dataset["files"] == 2


def test_history_has_train_validation_and_diagnostics(example_run: Any) -> None:
    _, records = example_run
    steps: dict[int, set[str]] = defaultdict(set)
    for item in by_type(records)["history"]:
        keys = {k for k in item["item"] if not k.startswith("_")}
        steps[item["step"]["num"]] |= keys
    everything = set().union(*steps.values())
    for key in (
        "train/loss",
        "train/accuracy",
        "val/loss",
        "val/accuracy",
        "final/val/accuracy",
        "diagnostics/grad_norm",
        "diagnostics/grad_norm/0",
        "diagnostics/grad_norm/2",
        "diagnostics/lr",
        "perf/step_time_ms",
        "perf/samples_per_s",
    ):
        assert key in everything, key
    # The cadence (log_every: 50 here; 200 by default) logs train metrics every 50 steps
    # and at the end, not every step.
    assert sorted(s for s, keys in steps.items() if "train/loss" in keys) == [50, 100, 110]
    assert sorted(s for s, keys in steps.items() if "val/accuracy" in keys) == [22, 44, 66, 88, 110]
    assert not any(k.startswith("perf/gpu") for k in everything)  # no CUDA here: no GPU keys


def test_predictions_table_of_images(example_run: Any) -> None:
    run_dir, records = example_run
    tables = [
        item["item"]
        for item in by_type(records)["history"]
        if item["item"].get("predictions._type") == "table-file"
    ]
    assert len(tables) == 1 and tables[0]["predictions.nrows"] == 32
    wandb_dir = find_wandb_run_dir(run_dir)
    assert wandb_dir is not None
    [table_file] = wandb_dir.glob("files/media/table/predictions_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["input", "prediction", "target", "correct", "confidence"]
    assert len(table["data"]) == 32 and table["data"][0][0] == "Image"
    # The table travels as a run_table artifact that carries one PNG per input image.
    [artifact] = [a for a in by_type(records)["artifact"] if a["type"] == "run_table"]
    paths = [entry["path"] for entry in artifact["manifest"]["contents"]]
    assert "predictions.table.json" in paths
    assert sum(p.startswith("media/images/") and p.endswith(".png") for p in paths) == 32


def test_model_artifacts_with_aliases_and_the_dataset_artifact(example_run: Any) -> None:
    run_dir, records = example_run
    artifacts = by_type(records)["artifact"]
    models = [a for a in artifacts if a["type"] == "model"]
    assert [a["name"] for a in models] == ["model-example1", "model-example1"]
    assert "best" in models[0]["aliases"] and models[1]["aliases"] == ["latest"]
    [dataset] = [a for a in artifacts if a["type"] == "dataset"]
    assert dataset["name"] == "sklearn-digits"
    paths = sorted(entry["path"] for entry in dataset["manifest"]["contents"])
    assert paths == ["images.npy", "labels.npy"]
    run = LocalStore(run_dir.parent.parent).get("example1")
    assert run.state is RunState.UNKNOWN  # no launcher here, and tracking never decides it


def test_console_output_is_recorded(example_run: Any) -> None:
    _, records = example_run
    grouped = by_type(records)  # W&B's emulated console mode writes "output" records
    text = "".join(r.get("line", "") for r in grouped["output"] + grouped["output_raw"])
    assert "validation at step 22: val/loss" in text
    assert "validation after training: final/val/loss" in text


def test_summary_keeps_final_and_best_and_the_nonfinite_count(example_run: Any) -> None:
    run_dir, _ = example_run
    run = LocalStore(run_dir.parent.parent).get("example1")
    accuracy = run.summary["val/accuracy"]
    assert set(accuracy) == {"last", "max"} and accuracy["max"] >= accuracy["last"]
    assert run.summary["diagnostics/nonfinite_loss_steps"] == 0
    assert run.summary["final/val/accuracy"] == accuracy["max"]  # the best model, re-evaluated
