"""check-results wait: blocks until every run launched for a branch's commit has ended, wakes
soon after the last one ends, honours its timeout, and never hangs on a run whose launcher
was killed (that run reads as crashed, and its process is gone too)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.stores.local import LocalStore

from .helpers import (
    METRICS_YAML,
    acc,
    commit_file,
    git,
    invoke,
    make_repo,
    offline_env,
    start_cli,
    write_run,
)

SLEEPER = """\
import os, sys, time
from pathlib import Path
Path(os.environ["HARNESS_RUN_DIR"], "pid").write_text(str(os.getpid()))
time.sleep(float(sys.argv[1]))
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo")
    commit_file(
        repo,
        "harness.yaml",
        "launch: {entry_point: sleeper.py, args: ['0.5']}\n" + METRICS_YAML,
    )
    commit_file(repo, "sleeper.py", SLEEPER)
    return repo, tmp_path / "store"


def start(
    program: str, repo: Path, home: Path, *args: str, quiet: bool = False
) -> subprocess.Popen[str]:
    """A console script in its own process (a launcher's output is not kept: ``quiet``)."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return start_cli(program, repo, home, *args, stdout=output, stderr=output)


def test_wait_returns_soon_after_the_last_run_ends(project: tuple[Path, Path]) -> None:
    repo, home = project
    waiter = start("check-results", repo, home, "wait", "--branch", "main", "--format", "json")
    assert waiter.stderr is not None  # the wait is waiting before any run exists
    first = waiter.stderr.readline()
    assert "no run yet" in first, first
    launcher = start("launch-job", repo, home, "--branch", "main", "--seeds", "2", quiet=True)
    assert launcher.wait(timeout=120) == 0
    ended = time.monotonic()
    out, err = waiter.communicate(timeout=60)
    woke = time.monotonic() - ended
    assert waiter.returncode == 15, err  # main is the baseline branch
    assert woke < 1.5, f"woke {woke:.2f}s after the launcher ended"
    data = json.loads(out)
    assert data["kind"] == "summary" and data["branches"][0]["primary_verdict"] == "baseline"
    assert len(data["branches"][0]["runs"]) == 2  # both seeds, not just the first
    assert "run(s) ended" in err  # progress on stderr


def test_wait_honours_its_timeout(project: tuple[Path, Path]) -> None:
    repo, home = project
    started = time.monotonic()
    ran = invoke(
        "check-results", "wait", "--branch", "main", "--timeout", "1s",
        cwd=repo, env=offline_env(HARNESS_HOME=str(home)),
    )  # fmt: skip
    assert ran.returncode == 124
    assert time.monotonic() - started < 5
    assert "timed out after 1s waiting for main @" in ran.stderr and "no run yet" in ran.stderr


def test_a_run_whose_launcher_was_killed_is_crashed_and_its_process_gone(
    project: tuple[Path, Path],
) -> None:
    repo, home = project
    (repo / "harness.yaml").write_text(
        "launch: {entry_point: sleeper.py, args: ['120']}\n" + METRICS_YAML
    )
    git(repo, "commit", "--quiet", "-am", "sleep long")
    launcher = start("launch-job", repo, home, "--branch", "main", quiet=True)
    deadline = time.monotonic() + 60
    while not list(home.glob("runs/*/pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    [pid_file] = list(home.glob("runs/*/pid"))
    child = int(pid_file.read_text())
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(timeout=10)
    ran = invoke(
        "check-results", "wait", "--branch", "main", "--timeout", "30s",
        cwd=repo, env=offline_env(HARNESS_HOME=str(home)),
    )  # fmt: skip
    assert ran.returncode == 13, ran.stderr  # every run failed or crashed
    [run] = LocalStore(home).runs()
    assert run.state.value == "crashed" and "its launcher is gone" in (run.reason or "")
    for _ in range(50):  # the kernel ends the run with its launcher (PR_SET_PDEATHSIG)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the run's process {child} outlived its launcher")


@pytest.mark.parametrize(
    ("branch", "code"), [("exp/good", 0), ("exp/bad", 10), ("exp/broken", 13), ("main", 15)]
)
def test_exit_codes_say_the_verdict(tmp_path: Path, branch: str, code: int) -> None:
    (tmp_path / "harness.yaml").write_text(METRICS_YAML)
    home = tmp_path / "store"
    for seed in range(2):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80 + seed / 100))
    write_run(home, "good", branch="exp/good", commit="c" * 40, summary=acc(0.95))
    write_run(home, "bad", branch="exp/bad", commit="c" * 40, summary=acc(0.50))
    write_run(home, "broken", branch="exp/broken", commit="c" * 40, state="failed")
    commit = "a" * 40 if branch == "main" else "c" * 40
    ran = invoke(
        "check-results", "wait", "--branch", branch, "--commit", commit, "--timeout", "5s",
        cwd=tmp_path, env=offline_env(HARNESS_HOME=str(home)),
    )  # fmt: skip
    assert ran.returncode == code, ran.stdout + ran.stderr


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "harness.yaml").write_text(METRICS_YAML)
    env = offline_env(HARNESS_HOME=str(tmp_path / "store"))
    for args in (
        ["--branch", "a..b"],
        ["--branch", "x", "--commit", "zz"],
        ["--branch", "x", "--timeout", "soon"],
    ):
        ran = invoke("check-results", "wait", *args, cwd=tmp_path, env=env)
        assert ran.returncode == 2, (args, ran.stderr)
