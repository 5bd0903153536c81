"""Protected evaluation: a branch that changes how it is scored is refused by launch-job
and never compared, whatever its own harness.yaml says (what is protected is read from the
baseline commit's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import METRICS_YAML, acc, commit_file, git, invoke, make_repo, offline_env, write_run

CONFIG = "launch: {entry_point: train.py}\nprotected: [eval.py, data/*.csv]\n" + METRICS_YAML


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", CONFIG)
    commit_file(repo, "eval.py", "def score(y): return y\n")
    commit_file(repo, "train.py", "print('training')\n")
    branches = {
        "exp/cheat": [("eval.py", "def score(y): return 1.0\n")],
        "exp/metric": [("harness.yaml", CONFIG.replace("goal: maximize", "goal: minimize"))],
        "exp/harness": [("harness/tracking/run.py", "x = 1\n")],
        "exp/data": [("data/val.csv", "1,2\n")],
        "exp/unprotect": [
            ("harness.yaml", CONFIG.replace("protected: [eval.py, data/*.csv]", "protected: []")),
            ("eval.py", "def score(y): return 1.0\n"),
        ],
        "exp/fine": [("train.py", "print('training harder')\n")],
    }
    for branch, files in branches.items():
        git(repo, "checkout", "--quiet", "-b", branch, "main")
        for name, text in files:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", f"change {branch}")
        git(repo, "checkout", "--quiet", "main")
    return repo


@pytest.mark.parametrize(
    ("branch", "named"),
    [
        ("exp/cheat", "eval.py"),
        ("exp/metric", "harness.yaml: metrics"),
        ("exp/harness", "harness/tracking/run.py"),
        ("exp/data", "data/val.csv"),
        ("exp/unprotect", "eval.py"),  # its own harness.yaml cannot unprotect it
    ],
)
def test_launch_job_refuses_a_branch_that_changes_its_evaluation(
    repo: Path, tmp_path: Path, branch: str, named: str
) -> None:
    home = tmp_path / "store"
    ran = invoke(
        "launch-job", "--branch", branch, cwd=repo, env=offline_env(HARNESS_HOME=str(home))
    )
    assert ran.returncode == 2
    assert f"{branch} changes protected paths (" in ran.stderr and named in ran.stderr
    assert "--allow-protected" in ran.stderr
    assert not (home / "runs").exists()  # nothing launched


def test_a_branch_that_changes_nothing_protected_launches(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    ran = invoke(
        "launch-job", "--branch", "exp/fine", cwd=repo, env=offline_env(HARNESS_HOME=str(home))
    )
    assert ran.returncode == 0, ran.stderr


def test_allow_protected_launches_and_records_it(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    env = offline_env(HARNESS_HOME=str(home))
    ran = invoke("launch-job", "--branch", "exp/cheat", "--allow-protected", cwd=repo, env=env)
    assert ran.returncode == 0, ran.stderr
    [manifest] = home.glob("runs/*/harness.json")
    assert json.loads(manifest.read_text())["evaluation_changed"] == ["eval.py"]


def test_compare_summary_and_leaderboard_never_judge_a_changed_evaluation(
    repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "store"
    base = git(repo, "rev-parse", "main")
    for seed in range(3):
        write_run(home, f"base{seed}", commit=base, seed=seed, summary=acc(0.80 + seed / 100))
        cheat = git(repo, "rev-parse", "exp/cheat")
        write_run(home, f"cheat{seed}", branch="exp/cheat", commit=cheat, seed=seed,
                  summary=acc(0.99 - seed / 1000))  # fmt: skip
    env = offline_env(HARNESS_HOME=str(home))
    data = json.loads(
        invoke("check-results", "compare", "--format", "json", cwd=repo, env=env).stdout
    )
    [entry] = data["branches"]
    assert entry["primary_verdict"] == "not_comparable" and entry["evaluation_changed"] == [
        "eval.py"
    ]
    assert data["winner"] is None
    assert entry["metrics"][0]["value"]["n"] == 3  # its values are still shown
    board = json.loads(
        invoke("check-results", "leaderboard", "--format", "json", cwd=repo, env=env).stdout
    )
    assert board["entries"][0]["rank"] is None and board["winner"] is None
    summary = invoke(
        "check-results", "summary", "--branch", "exp/cheat", "--format", "md", cwd=repo, env=env
    )
    assert "evaluation changed (eval.py), not comparable with main" in summary.stdout
    assert "🚫 not\\_comparable" in summary.stdout


def test_a_run_imports_the_installed_harness_not_the_branch_s_copy(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "checkout", "--quiet", "-b", "exp/own-harness", "main")
    (repo / "harness").mkdir()
    (repo / "harness" / "__init__.py").write_text("raise SystemExit('the branch copy ran')\n")
    (repo / "train.py").write_text("import harness\nprint('imported', harness.__file__)\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a harness of its own")
    git(repo, "checkout", "--quiet", "main")
    home = tmp_path / "store"
    env = offline_env(HARNESS_HOME=str(home))
    args = ("--branch", "exp/own-harness", "--allow-protected")
    ran = invoke("launch-job", *args, cwd=repo, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    [log] = home.glob("runs/*/output.log")
    assert "imported" in log.read_text() and "worktrees" not in log.read_text()
