"""Training code that knows nothing of the harness joins the loop unchanged: a plain
``wandb`` script, a Hugging Face ``Trainer(report_to="wandb")`` script, a Lightning
``WandbLogger`` script and a DDP script under ``torchrun``, each launched with
``launch-job --backend local`` and read back with ``check-results summary --format json``.

What each run logged is read independently with wandb's own reader (``wandb leet inspect
--json``) and must be exactly what check-results shows: the last value and the best by
the metric's goal.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.stores.local import wandb_run_dirs

from .helpers import (
    BIN,
    REPO_ROOT,
    commit_file,
    git,
    invoke,
    make_repo,
    offline_env,
    wandb_records,
)

pytestmark = pytest.mark.slow

TRAINING = Path(__file__).resolve().parent / "training"
PLAIN_METRICS = """\
metrics:
  - {name: val/accuracy, goal: maximize, primary: true}
  - {name: val/loss, goal: minimize}
"""


def scratch(tmp_path: Path, files: dict[str, str], harness_yaml: str) -> Path:
    repo = make_repo(tmp_path / "repo")
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    commit_file(repo, "harness.yaml", harness_yaml)
    return repo


def branch_with(repo: Path, branch: str, harness_yaml: str | None = None) -> str:
    """A branch off main, with its own harness.yaml when one is given; its commit."""
    if harness_yaml is None:
        git(repo, "branch", branch, "main")
        return git(repo, "rev-parse", branch)
    commit = commit_file(repo, "harness.yaml", harness_yaml, branch=branch)
    git(repo, "checkout", "--quiet", "main")
    return commit


def launch(repo: Path, home: Path, branch: str, *args: str) -> subprocess.CompletedProcess[str]:
    # One thread per process: torch's default of one per core only contends with the
    # other test workers for the same cores.
    return subprocess.run(
        [str(BIN / "launch-job"), "--backend", "local", "--branch", branch, *args],
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home), OMP_NUM_THREADS="1"),
        capture_output=True,
        text=True,
        timeout=280,
    )


def summary(repo: Path, home: Path, branch: str) -> dict[str, Any]:
    done = invoke(
        "check-results",
        "summary",
        "--branch",
        branch,
        "--format",
        "json",
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home)),
    )
    assert done.returncode in (0, 1), done.stderr
    [result] = json.loads(done.stdout)["branches"]
    assert isinstance(result, dict)
    return result


def logged(run_dir: Path, names: list[str]) -> dict[str, list[float]]:
    """Every value of each of ``names`` in the run's history, as wandb's own reader
    prints it."""
    [folder] = wandb_run_dirs(run_dir)
    history = [r["history"]["item"] for r in wandb_records(folder) if r.get("type") == "history"]
    return {name: [float(item[name]) for item in history if name in item] for name in names}


def assert_shows_what_was_logged(
    result: dict[str, Any], home: Path, commit: str, metrics: dict[str, str], seeds: int
) -> None:
    runs = sorted(result["runs"], key=lambda r: r["seed"])
    assert [r["seed"] for r in runs] == list(range(seeds))
    for run in runs:
        assert (run["state"], run["exit_code"], run["values_from"]) == ("finished", 0, "wandb")
        config = run["config"]
        assert (config["branch"], config["commit"], config["seed"]) == (
            result["branch"],
            commit,
            run["seed"],
        )
        history = logged(home / "runs" / run["id"], list(metrics))
        for name, goal in metrics.items():
            values = history[name]
            best = max(values) if goal == "maximize" else min(values)
            assert values, f"{name} was never logged"
            assert run["values"][name] == {"last": values[-1], "best": best, "source": "logged"}
        assert run["warnings"] == []
    assert not result["seeds_ignored"]


def assert_failed_with(result: dict[str, Any], line: str) -> None:
    [run] = result["runs"]
    assert run["state"] == "failed" and run["exit_code"] == 1
    assert line in run["reason"], run["reason"]


def test_a_plain_wandb_script(tmp_path: Path) -> None:
    files = {"train.py": (TRAINING / "plain_wandb.py").read_text()}
    yaml = "wandb: {project: plain}\nlaunch: {entry_point: train.py}\n" + PLAIN_METRICS
    repo = scratch(tmp_path, files, yaml)
    home = tmp_path / "store"
    commit = branch_with(repo, "exp/plain")
    fails = yaml.replace("train.py}", "train.py, args: [--raise]}")
    branch_with(repo, "exp/plain-raise", fails)

    done = launch(repo, home, "exp/plain", "--seeds", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    result = summary(repo, home, "exp/plain")
    assert_shows_what_was_logged(
        result, home, commit, {"val/accuracy": "maximize", "val/loss": "minimize"}, seeds=2
    )
    # The seed reached the script through wandb.config: the values are its functions of it.
    values = {r["seed"]: r["values"]["val/accuracy"] for r in result["runs"]}
    assert values[1]["best"] == pytest.approx(0.81) and values[1]["last"] == pytest.approx(0.77)
    assert {r["config"]["lr"] for r in result["runs"]} == {0.05}  # its own config kept

    assert launch(repo, home, "exp/plain-raise").returncode == 1
    assert_failed_with(summary(repo, home, "exp/plain-raise"), "ValueError: boom from plain wandb")


PLACEHOLDERS = """
import sys, wandb
print("argv:", sys.argv[1:])
run = wandb.init(group="my-own-group", config={"seed": 7})
run.log({"val/accuracy": 0.5})
run.finish()
"""


def test_placeholders_reach_argv_and_an_identity_override_is_warned_about(
    tmp_path: Path,
) -> None:
    yaml = (
        "wandb: {project: plain}\n"
        'launch: {entry_point: train.py, args: ["--seed", "{seed}", "--tag={branch}@{commit}",'
        ' "{run_id}", "{other}"]}\n' + PLAIN_METRICS
    )
    repo = scratch(tmp_path, {"train.py": PLACEHOLDERS}, yaml)
    home = tmp_path / "store"
    commit = git(repo, "rev-parse", "HEAD")
    done = launch(repo, home, "main", "--seeds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    [run_dir] = (home / "runs").iterdir()
    argv = ["--seed", "0", f"--tag=main@{commit}", run_dir.name, "{other}"]
    assert f"argv: {argv}" in (run_dir / "output.log").read_text()
    assert json.loads((run_dir / "harness.json").read_text())["command"] == [
        "python",
        "train.py",
        *argv,
    ]
    [run] = summary(repo, home, "main")["runs"]
    assert run["config"]["seed"] == 7  # the script's own value, never the launcher's
    assert any("its own group 'my-own-group'" in w for w in run["warnings"])
    assert any("config says seed 7" in w for w in run["warnings"])
    assert "its own group 'my-own-group'" in done.stdout  # said when the run ends, too


def test_a_hugging_face_trainer_script(tmp_path: Path) -> None:
    example = REPO_ROOT / "experiments" / "tinylm"
    yaml = (example / "harness.yaml").read_text()
    files = {"experiments/tinylm/train.py": (example / "train.py").read_text()}
    repo = scratch(tmp_path, files, yaml)
    home = tmp_path / "store"
    commit = branch_with(repo, "exp/hf")
    branch_with(
        repo, "exp/hf-raise", yaml.replace('"{seed}"]', '"{seed}", "--raise-at-step", "3"]')
    )

    done = launch(repo, home, "exp/hf", "--seeds", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    result = summary(repo, home, "exp/hf")
    assert_shows_what_was_logged(result, home, commit, {"eval/loss": "minimize"}, seeds=2)
    for run in result["runs"]:  # learnt: far below chance (a uniform guess over the vocabulary)
        assert run["values"]["eval/loss"]["last"] < 0.6 * math.log(run["config"]["vocab_size"])

    assert launch(repo, home, "exp/hf-raise", "--seeds", "1").returncode == 1
    assert_failed_with(summary(repo, home, "exp/hf-raise"), "RuntimeError: failing on purpose")


def test_a_lightning_wandb_logger_script(tmp_path: Path) -> None:
    """WandbLogger writes its run under the working directory (``save_dir="."``), the
    worktree the launcher deletes: the run is moved into the store first."""
    yaml = (
        "wandb: {project: lit}\n"
        'launch: {entry_point: train.py, args: ["--seed", "{seed}"]}\n'
        "metrics:\n  - {name: val/loss, goal: minimize}\n"
    )
    files = {"train.py": (TRAINING / "lightning_wandb.py").read_text()}
    repo = scratch(tmp_path, files, yaml)
    home = tmp_path / "store"
    commit = branch_with(repo, "exp/lit")
    branch_with(repo, "exp/lit-raise", yaml.replace('"{seed}"]', '"{seed}", "--raise"]'))

    done = launch(repo, home, "exp/lit", "--seeds", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_shows_what_was_logged(
        summary(repo, home, "exp/lit"), home, commit, {"val/loss": "minimize"}, seeds=2
    )
    assert not (home / "worktrees").exists() or not any((home / "worktrees").iterdir())

    assert launch(repo, home, "exp/lit-raise").returncode == 1
    assert_failed_with(summary(repo, home, "exp/lit-raise"), "RuntimeError: boom from lightning")


@pytest.mark.skipif(shutil.which("torchrun", path=str(BIN)) is None, reason="needs torch")
def test_torchrun_records_one_run_with_rank_0_s_values(tmp_path: Path) -> None:
    yaml = (
        "wandb: {project: ddp}\n"
        "launch: {command: torchrun --nproc-per-node 2, entry_point: train.py}\n"
        "metrics:\n  - {name: val/accuracy, goal: maximize}\n"
    )
    repo = scratch(tmp_path, {"train.py": (TRAINING / "ddp_wandb.py").read_text()}, yaml)
    home = tmp_path / "store"
    done = launch(repo, home, "main")
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = summary(repo, home, "main")["runs"]
    run_dir = home / "runs" / run["id"]
    assert len(wandb_run_dirs(run_dir)) == 1  # rank 1's wandb.init() recorded nothing
    values = logged(run_dir, ["val/accuracy"])["val/accuracy"]
    assert values == pytest.approx([0.5 + 0.01 * step for step in range(5)])  # rank 0's
    assert run["values"]["val/accuracy"]["last"] == pytest.approx(0.54)
    assert "disabled" in (run_dir / "output.log").read_text()
