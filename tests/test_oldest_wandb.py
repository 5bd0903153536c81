"""The training side on the oldest supported wandb (constraints-oldest.txt): harness.tracking
and a plain wandb script run in a second environment the tests build, launched through
``HARNESS_LAUNCH_PYTHON``; the harness's own wandb (constraints.txt) reads what they wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.stores.local import LocalStore, wandb_run_dirs
from harness.stores.offline import read_offline_run

from .helpers import BIN, REPO_ROOT, built_once, commit_file, make_repo, offline_env, session_temp

pytestmark = pytest.mark.slow

OLDEST = REPO_ROOT / "constraints-oldest.txt"
TRAINING = Path(__file__).resolve().parent / "training"


def oldest_version() -> str:
    pins = dict(line.split("==", 1) for line in OLDEST.read_text().splitlines() if "==" in line)
    return pins["wandb"].strip()


def build_environment(folder: Path) -> None:
    """A venv with exactly the oldest pins (and no harness: the launcher's PYTHONPATH
    gives it this checkout's)."""
    venv = folder / "venv"
    env = offline_env()
    uv = str(BIN / "uv")
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True
    )
    packages = [line.split("==")[0] for line in OLDEST.read_text().splitlines() if "==" in line]
    python = str(venv / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
    subprocess.run(
        [*install, "-c", str(OLDEST), *packages],
        env=env,
        check=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def oldest_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = built_once(session_temp(tmp_path_factory), "oldest-wandb", build_environment)
    python = folder / "venv" / "bin" / "python"
    shown = subprocess.run(
        [str(python), "-c", "import wandb; print(wandb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        env=offline_env(),
    )
    assert shown.stdout.strip() == oldest_version()
    return python


def launch(repo: Path, home: Path, python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = offline_env(
        HARNESS_HOME=str(home), HARNESS_LAUNCH_PYTHON=str(python), PYTHONPATH=str(REPO_ROOT)
    )
    return subprocess.run(
        [str(BIN / "launch-job"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


TRACKED = """
from harness import tracking
import numpy as np
with tracking.init(config={"lr": 0.1}, log_every=5) as run:
    run.use_dataset("toy", {"x": np.arange(12.0).reshape(4, 3)})
    for step in range(1, 31):
        run.step(1.0 / step)
        if step % 10 == 0:
            run.log_validation({"val/accuracy": 0.6 + step / 100, "val/loss": 1 - step / 100})
    run.log_validation({"val/accuracy": 0.95}, final=True)
"""
YAML = """\
wandb: {project: old}
launch: {entry_point: train.py}
metrics:
  - {name: val/accuracy, goal: maximize, primary: true}
  - {name: val/loss, goal: minimize}
"""


def test_harness_tracking_on_the_oldest_wandb(tmp_path: Path, oldest_python: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", YAML)
    commit_file(repo, "train.py", TRACKED)
    home = tmp_path / "store"
    done = launch(repo, home, oldest_python, "--branch", "main")
    assert done.returncode == 0, done.stdout + done.stderr
    [run] = LocalStore(home).runs()
    assert run.values_from == "harness.tracking" and run.config["datasets"]["toy"]
    assert run.metric("val/accuracy") == pytest.approx(0.9)
    assert run.metric("val/loss", which="best") == pytest.approx(0.7)
    # What the old wandb wrote, this wandb's environment reads the same.
    [folder] = wandb_run_dirs(home / "runs" / run.id)
    offline = read_offline_run(folder, ["val/accuracy"])
    assert offline.run_id == run.id and offline.exit_code == 0
    assert offline.series["val/accuracy"].last == run.metric("val/accuracy")
    assert offline.summary["final/val/accuracy"] == 0.95
    # And a harness installed beside the oldest wandb reads it with that wandb's schema.
    code = (
        "import sys; from pathlib import Path; from harness.stores.offline import"
        " read_offline_run as read; r = read(Path(sys.argv[1]), ['val/accuracy']);"
        " print(r.run_id, r.series['val/accuracy'].count, r.skipped)"
    )
    there = subprocess.run(
        [str(oldest_python), "-c", code, str(folder)],
        capture_output=True,
        text=True,
        env=offline_env(PYTHONPATH=str(REPO_ROOT)),
        timeout=120,
    )
    assert there.stdout.split() == [run.id, "3", "0"], there.stderr


def test_a_plain_script_on_the_oldest_wandb(tmp_path: Path, oldest_python: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", YAML)
    commit_file(repo, "train.py", (TRAINING / "plain_wandb.py").read_text())
    home = tmp_path / "store"
    done = launch(repo, home, oldest_python, "--branch", "main", "--seeds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    for seed, run in enumerate(LocalStore(home).runs()):
        assert run.values_from == "wandb" and run.warnings == ()
        assert (run.config["branch"], run.config["seed"], run.group) == (
            "main",
            seed,
            f"main@{run.short_commit}",
        )
        assert run.metric("val/accuracy") == pytest.approx(0.78 - 0.01 * seed)
        assert run.metric("val/accuracy", which="best") == pytest.approx(0.82 - 0.01 * seed)
        manifest = json.loads((home / "runs" / run.id / "harness.json").read_text())
        assert manifest["history_rows"] == 20
