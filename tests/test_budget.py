"""Budgets fail closed: launch-job refuses, before anything starts, a launch that could pass
the baseline's runs, concurrency or hours budget, with the numbers; parallel launches cannot
both slip through; summary shows what is spent and left."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .helpers import (
    METRICS_YAML,
    commit_file,
    git,
    invoke,
    make_repo,
    offline_env,
    run_cli,
    start_cli,
)

SLEEPER = "import sys, time\ntime.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)\n"


def project(tmp_path: Path, budget: str, args: str = "[]", timeout: str = "") -> Path:
    repo = make_repo(tmp_path / "repo")
    launch = f"launch: {{entry_point: sleeper.py, args: {args}{timeout}}}\n"
    commit_file(repo, "harness.yaml", launch + f"budget: {budget}\n" + METRICS_YAML)
    commit_file(repo, "sleeper.py", SLEEPER)
    for branch in ("exp/a", "exp/b"):
        git(repo, "branch", branch)
    return repo


def launch(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("launch-job", repo, home, *args, timeout=120)


def test_runs_per_branch_refuses_with_the_numbers_and_starts_nothing(tmp_path: Path) -> None:
    repo = project(tmp_path, "{runs_per_branch: 2}")
    home = tmp_path / "store"
    assert launch(repo, home, "--branch", "exp/a").returncode == 0
    refused = launch(repo, home, "--branch", "exp/a", "--seeds", "2")
    assert refused.returncode == 2
    assert "exp/a: over budget, nothing launched: runs_per_branch 2: 1 spent + 2 asked" in (
        refused.stderr
    )
    assert len(list(home.glob("runs/*"))) == 1 and len(list(home.glob("launches/*.json"))) == 1
    assert launch(repo, home, "--branch", "exp/a").returncode == 0  # the last one fits
    assert launch(repo, home, "--branch", "exp/b").returncode == 0  # per branch


def test_an_hours_budget_needs_a_timeout(tmp_path: Path) -> None:
    repo = project(tmp_path, "{hours_per_branch: 1}")
    refused = launch(repo, tmp_path / "store", "--branch", "exp/a")
    assert refused.returncode == 2 and "no launch.timeout, so the launch cannot be bounded" in (
        refused.stderr
    )
    over = launch(repo, tmp_path / "store", "--branch", "exp/a", "--seeds", "3", "--timeout", "30m")
    assert over.returncode == 2 and "0.00 h spent + 3 x 0.50 h timeout = 1.50 h" in over.stderr
    assert launch(repo, tmp_path / "store", "--branch", "exp/a", "--timeout", "30m").returncode == 0


def start(repo: Path, home: Path, branch: str) -> subprocess.Popen[str]:
    return start_cli("launch-job", repo, home, "--branch", branch, stdout=subprocess.DEVNULL)


def test_parallel_launches_cannot_both_slip_through(tmp_path: Path) -> None:
    repo = project(tmp_path, "{runs_per_branch: 1}", args="['3']")
    home = tmp_path / "store"
    both = [start(repo, home, "exp/a") for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in both)
    errors = [p.stderr.read() if p.stderr else "" for p in both]
    for p in both:
        if p.stderr:
            p.stderr.close()
    assert codes == [0, 2], errors
    assert any("over budget" in e for e in errors)
    assert len(list(home.glob("runs/*"))) == 1


def test_concurrent_runs_counts_every_branch(tmp_path: Path) -> None:
    repo = project(tmp_path, "{concurrent_runs: 1}", args="['5']")
    home = tmp_path / "store"
    first = start(repo, home, "exp/a")
    try:
        deadline = time.monotonic() + 60
        while not list(home.glob("runs/*/harness.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        second = launch(repo, home, "--branch", "exp/b")
        assert second.returncode == 2
        assert "concurrent_runs 1: 1 launch(es) running" in second.stderr
    finally:
        assert first.wait(timeout=60) == 0
        if first.stderr:
            first.stderr.close()
    assert launch(repo, home, "--branch", "exp/b", "--seeds", "1").returncode == 0


def test_summary_shows_spent_and_left(tmp_path: Path) -> None:
    repo = project(tmp_path, "{runs_per_branch: 5, hours_per_branch: 2}", timeout=", timeout: 10m")
    home = tmp_path / "store"
    assert launch(repo, home, "--branch", "exp/a", "--seeds", "2").returncode == 0
    env = offline_env(HARNESS_HOME=str(home))
    ran = invoke(
        "check-results", "summary", "--branch", "exp/a", "--format", "json", cwd=repo, env=env
    )
    budget = json.loads(ran.stdout)["budget"]
    assert budget["runs_per_branch"] == {"limit": 5, "spent": 2, "left": 3}
    assert budget["hours_per_branch"]["limit"] == 2 and budget["hours_per_branch"]["left"] > 1.9
    assert budget["concurrent_runs"] is None
    text = invoke("check-results", "summary", "--branch", "exp/a", cwd=repo, env=env).stdout
    assert "Budget: 2 of 5 runs" in text


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("{runs_per_branch: 0}", "budget.runs_per_branch: expected 1 to 1000000"),
        ("{hours_per_branch: soon}", "budget.hours_per_branch"),
        ("{nope: 1}", "unknown key 'nope'"),
    ],
)
def test_a_bad_budget_is_a_config_error(tmp_path: Path, budget: str, message: str) -> None:
    repo = project(tmp_path, budget)
    ran = launch(repo, tmp_path / "store", "--branch", "exp/a")
    assert ran.returncode == 2 and message in ran.stderr, ran.stderr
