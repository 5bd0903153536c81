"""harness.tracking makes real offline W&B runs that both our store and W&B's reader see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.runs import RunState
from harness.stores.local import LocalStore, find_wandb_run_dir

from .helpers import BIN, commit_file, offline_env, run_python

pytestmark = pytest.mark.slow

SCRIPT = """
from harness import tracking
run = tracking.init(config={"lr": 0.1, "hidden": 32, "seed": 123})
print("seed in config:", run.config["seed"])
for step in range(600):
    run.log({"train/loss": 1 / (step + 1)}, step=step)
    if step % 10 == 0:
        metrics = {"val/accuracy": min(0.5 + step / 1000, 0.99), "val/loss": 1 - step / 1000}
        run.log(metrics, step=step)
run.log({"val/accuracy": 0.9}, step=600)
run.finish()
"""


def leet(wandb_dir: Path) -> dict[str, object]:
    done = subprocess.run(
        [str(BIN / "wandb"), "leet", "inspect", "--summary", "--json", str(wandb_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=offline_env(WANDB_ERROR_REPORTING="false"),
    )
    data: dict[str, object] = json.loads(done.stdout)
    return data


def test_launched_run_records_identity_config_summary_and_curves(
    repo: Path, tmp_path: Path
) -> None:
    commit = commit_file(repo, "train.py", SCRIPT)
    home = tmp_path / "store"
    run_dir = home / "runs" / "launch01"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = offline_env(
        HARNESS_HOME=str(home),
        HARNESS_RUN_ID="launch01",
        HARNESS_RUN_DIR=str(run_dir),
        HARNESS_BRANCH="exp/x",
        HARNESS_COMMIT=commit,
        HARNESS_SEED="2",
        HARNESS_CONFIG=str(repo / "harness.yaml"),
        # Whatever the environment says, the local backend stays offline.
        WANDB_API_KEY="x" * 40,
        WANDB_MODE="online",
        WANDB_BASE_URL="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, str(repo / "train.py")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "seed in config: 2" in done.stdout  # the launcher's seed wins

    run = LocalStore(home).get("launch01")
    assert (run.branch, run.commit, run.seed) == ("exp/x", commit, 2)
    assert run.config["branch"] == "exp/x" and run.config["commit"] == commit
    assert run.config["group"] == f"exp/x@{commit[:7]}"
    assert run.config["lr"] == 0.1 and run.config["seed"] == 2
    assert run.summary["val/accuracy"] == {"last": 0.9, "max": 0.99}
    assert run.metric("val/accuracy") == 0.9
    assert run.metric("val/accuracy", which="best") == 0.99
    assert run.summary["train/loss"] == pytest.approx(1 / 600)
    # Launched: the launcher, not tracking, decides the final state.
    assert run.state is RunState.UNKNOWN and run.exit_code is None

    curve = LocalStore(home).curve("launch01", "val/accuracy")
    assert 2 <= len(curve) <= 256 and curve[-1] == (600, 0.9)
    loss_curve = LocalStore(home).curve("launch01", "train/loss")  # kept for the run report
    assert 2 <= len(loss_curve) <= 256 and loss_curve[-1] == (599, pytest.approx(1 / 600))
    assert not (elsewhere / "wandb").exists()  # nothing written to the working directory

    wandb_dir = find_wandb_run_dir(run_dir)
    assert wandb_dir is not None and wandb_dir.name.startswith("offline-run-")
    seen = leet(wandb_dir)
    config = seen["config"]
    assert isinstance(config, dict)
    assert config["branch"] == "exp/x" and config["commit"] == commit and config["seed"] == 2
    assert seen["state"] == "finished"
    summary = seen["summary"]
    assert isinstance(summary, dict) and summary["val/accuracy"] == {"last": 0.9, "max": 0.99}


def test_run_started_by_hand_reads_git_and_owns_its_state(repo: Path) -> None:
    commit = commit_file(repo, "train.py", SCRIPT, branch="exp/by-hand")
    done = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [run] = LocalStore(repo / ".harness").runs()
    assert (run.branch, run.commit, run.seed) == ("exp/by-hand", commit, 123)
    assert run.state is RunState.FINISHED and run.exit_code == 0
    assert run.created_at and run.ended_at


def test_exception_by_hand_marks_the_run_failed(repo: Path) -> None:
    script = (
        "from harness import tracking\n"
        "run = tracking.init(config={'lr': 1})\n"
        "run.log({'val/accuracy': 0.5}, step=0)\n"
        "raise ValueError('diverged at step 0')\n"
    )
    commit_file(repo, "train.py", script)
    done = run_python(script, cwd=repo, env=offline_env())
    assert done.returncode == 1
    assert "ValueError: diverged at step 0" in done.stderr
    [run] = LocalStore(repo / ".harness").runs()
    assert run.state is RunState.FAILED and run.exit_code == 1
    assert run.reason == "ValueError: diverged at step 0"
    assert run.metric("val/accuracy") == 0.5


def test_context_manager_finishes_and_records_failure(repo: Path) -> None:
    script = (
        "from harness import tracking\n"
        "with tracking.init(config={}) as run:\n"
        "    run.log({'val/accuracy': 0.7})\n"
        "with tracking.init(config={}) as run:\n"
        "    raise SystemExit(3)\n"
    )
    done = run_python(script, cwd=repo, env=offline_env())
    assert done.returncode == 3
    states = sorted((r.state.value, r.exit_code) for r in LocalStore(repo / ".harness").runs())
    assert states == [("failed", 3), ("finished", 0)]
    assert not (repo / "wandb").exists()


def test_sys_exit_without_finish_records_its_code(repo: Path) -> None:
    script = "import sys\nfrom harness import tracking\nrun = tracking.init()\nsys.exit(4)\n"
    done = run_python(script, cwd=repo, env=offline_env())
    assert done.returncode == 4
    [run] = LocalStore(repo / ".harness").runs()
    assert (run.state, run.exit_code, run.reason) == (RunState.FAILED, 4, "exit code 4")


NAN_SCRIPT = """
import torch
from harness import tracking
run = tracking.init(config={{}}, log_every=5)
for step in range(20):
    loss = torch.tensor(float("nan") if step in (7, 8) else 1.0)
    run.step(loss, batch_size=4)
run.finish()
print("finished normally")
"""


@pytest.mark.parametrize("stop", [False, True])
def test_nonfinite_loss_is_counted_and_optionally_stops_the_run(repo: Path, stop: bool) -> None:
    (repo / "harness.yaml").write_text(f"tracking: {{stop_on_nonfinite: {str(stop).lower()}}}\n")
    done = run_python(NAN_SCRIPT.format(), cwd=repo, env=offline_env())
    [run] = LocalStore(repo / ".harness").runs()
    assert run.summary["diagnostics/nonfinite_loss_steps"] == 2
    if stop:
        assert done.returncode == 1 and "finished normally" not in done.stdout
        assert run.state is RunState.FAILED
        assert run.reason == (
            "NonFiniteLoss: the loss was NaN or inf at 2 step(s), last seen by step 10;"
            " stopping because tracking.stop_on_nonfinite is set"
        )
    else:
        assert done.returncode == 0 and "finished normally" in done.stdout
        assert run.state is RunState.FINISHED
