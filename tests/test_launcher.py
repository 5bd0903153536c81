"""End to end: launch-job runs a branch's committed code in a worktree and records it."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from harness.runs import RunState
from harness.stores.local import LocalStore

from .helpers import BIN, METRICS_YAML, commit_file, git, offline_env, run_cli
from .schemas import assert_valid

pytestmark = pytest.mark.slow

TRACKED = """
import sys
from harness import tracking
run = tracking.init(config={"lr": 0.1})
print("training with seed", run.config["seed"])
run.log({"val/accuracy": ACC, "val/loss": 0.3}, step=1)
run.finish()
"""


def launch(
    repo: Path, home: Path, *args: str, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return run_cli("launch-job", repo, home, *args, timeout=timeout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "store"


def only_run(home: Path, branch: str) -> tuple[LocalStore, str]:
    store = LocalStore(home)
    [run] = store.runs(branch=branch)
    return store, run.id


def test_finished_run_is_tracked_reported_and_cleaned_up(repo: Path, home: Path) -> None:
    base_commit = commit_file(repo, "train.py", TRACKED.replace("ACC", "0.90"))
    assert launch(repo, home, "--branch", "main").returncode == 0
    commit = commit_file(repo, "train.py", TRACKED.replace("ACC", "0.95"), branch="exp/good")
    # Uncommitted edits are never run: the launcher runs the commit, not the working tree.
    (repo / "train.py").write_text("raise SystemExit('the working tree was run')\n")

    done = launch(repo, home, "--branch", "exp/good", "--seeds", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[exp/good s0" in done.stdout and "training with seed 1" in done.stdout
    assert "exp/good beats main on val/accuracy" in done.stdout

    store = LocalStore(home)
    runs = sorted(store.runs(branch="exp/good"), key=lambda r: r.seed or 0)
    assert [(r.state, r.exit_code, r.seed, r.commit) for r in runs] == [
        (RunState.FINISHED, 0, 0, commit),
        (RunState.FINISHED, 0, 1, commit),
    ]
    assert {r.group for r in runs} == {f"exp/good@{commit[:7]}"}
    assert runs[0].config["branch"] == "exp/good" and runs[0].config["lr"] == 0.1
    assert runs[0].metric("val/accuracy") == 0.95
    assert "training with seed 0" in store.log_tail(runs[0].id)
    assert store.runs(branch="main")[0].commit == base_commit

    report = (home / "reports" / "exp" / "good.md").read_text()
    assert report.startswith("<!-- harness:report branch=exp%2Fgood -->")
    # The script logs the same value whatever its seed: its two runs count as one.
    assert "| **val/accuracy** | ↑ | 0.9 | 0.95 | +0.05 (+5.6%) | ✅ better |" in report
    assert "the script ignores its seed" in report
    assert not any((home / "worktrees").iterdir())
    assert git(repo, "worktree", "list").count("\n") == 0  # only the main worktree is left


def test_failed_run_keeps_its_traceback(repo: Path, home: Path) -> None:
    script = "print('step 1 ok')\ndef step():\n    raise ValueError('loss exploded')\nstep()\n"
    commit_file(repo, "train.py", script, branch="exp/fails")
    done = launch(repo, home, "--branch", "exp/fails")
    assert done.returncode == 1
    store, run_id = only_run(home, "exp/fails")
    run = store.get(run_id)
    assert (run.state, run.exit_code) == (RunState.FAILED, 1)
    assert run.reason == "exit code 1: ValueError: loss exploded"
    log = "\n".join(store.log_tail(run_id))
    assert "step 1 ok" in log and "Traceback (most recent call last)" in log
    assert "in step\n    raise ValueError" in log


def test_script_that_dies_before_importing_anything_is_recorded(repo: Path, home: Path) -> None:
    commit_file(repo, "train.py", "import sys\nsys.exit(7)\n", branch="exp/early")
    assert launch(repo, home, "--branch", "exp/early").returncode == 1
    store, run_id = only_run(home, "exp/early")
    run = store.get(run_id)
    assert (run.state, run.exit_code, run.seed) == (RunState.FAILED, 7, 0)
    assert run.created_at and run.ended_at and run.commit


def test_killed_run_is_crashed_with_the_signal(repo: Path, home: Path) -> None:
    script = (
        "import os, signal\n"
        "print('about to be killed', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    commit_file(repo, "train.py", script, branch="exp/killed")
    assert launch(repo, home, "--branch", "exp/killed").returncode == 1
    store, run_id = only_run(home, "exp/killed")
    run = store.get(run_id)
    assert (run.state, run.reason) == (RunState.CRASHED, "killed by signal SIGKILL")
    assert store.log_tail(run_id) == ["about to be killed"]


def test_timed_out_run_is_crashed_with_the_reason(repo: Path, home: Path) -> None:
    script = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"
    commit_file(repo, "train.py", script, branch="exp/slow")
    done = launch(repo, home, "--branch", "exp/slow", "--timeout", "2s", timeout=60)
    assert done.returncode == 1
    store, run_id = only_run(home, "exp/slow")
    run = store.get(run_id)
    assert (run.state, run.reason) == (RunState.CRASHED, "timed out after 2s")
    assert "crashed" in done.stdout


def test_missing_entry_point_is_a_failed_run(repo: Path, home: Path) -> None:
    commit_file(repo, "README", "no train.py here\n", branch="exp/empty")
    done = launch(repo, home, "--branch", "exp/empty")
    assert done.returncode == 1
    store, run_id = only_run(home, "exp/empty")
    assert (
        store.get(run_id).reason
        == f"entry point train.py does not exist at {git(repo, 'rev-parse', '--short=7', 'HEAD')}"
    )


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("exp/nope", "launch-job: error: branch 'exp/nope' does not exist in"),
        ("bad..name", "launch-job: error: invalid branch name 'bad..name': contains '..'"),
        ("-rf", "launch-job: error: invalid branch name '-rf': starts with '-'"),
    ],
)
def test_bad_branches_fail_before_anything_runs(
    repo: Path, home: Path, branch: str, message: str
) -> None:
    commit_file(repo, "train.py", "print('hi')\n")
    done = launch(repo, home, "--branch", branch)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert not home.exists()


def test_wandb_backend_needs_a_queue(repo: Path, home: Path) -> None:
    commit_file(repo, "train.py", "print('hi')\n")
    done = launch(repo, home, "--branch", "main", "--backend", "wandb")
    assert done.returncode == 2
    assert "no W&B Launch queue" in done.stderr and done.stderr.count("\n") == 1
    assert not home.exists()


def test_branch_settings_come_from_the_branch(repo: Path, home: Path) -> None:
    commit_file(repo, "train.py", "print('main entry')\n")
    git(repo, "checkout", "--quiet", "-b", "exp/own-config")
    own = "launch: {entry_point: other.py, args: ['--x=1']}\n" + METRICS_YAML  # metrics: kept
    (repo / "harness.yaml").write_text(own)
    commit_file(repo, "other.py", "import sys\nprint('other entry', sys.argv[1:])\n")
    git(repo, "checkout", "--quiet", "main")
    done = launch(repo, home, "--branch", "exp/own-config", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "other entry ['--x=1']" in done.stderr  # progress goes to stderr with --format json
    data = json.loads(done.stdout)
    assert_valid("launch", data)
    assert data["runs"][0]["state"] == "finished" and data["report"].endswith("own-config.md")


def test_bad_branch_config_is_a_clear_error(repo: Path, home: Path) -> None:
    commit_file(repo, "train.py", "print('hi')\n")
    commit_file(repo, "harness.yaml", "launch: {seeds: lots}\n", branch="exp/bad-config")
    git(repo, "checkout", "--quiet", "main")
    done = launch(repo, home, "--branch", "exp/bad-config")
    assert done.returncode == 2
    assert "harness.yaml at exp/bad-config@" in done.stderr
    assert "launch.seeds: expected int, got 'lots'" in done.stderr


def test_ctrl_c_stops_the_run_and_records_it_as_crashed(repo: Path, home: Path) -> None:
    script = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"
    commit_file(repo, "train.py", script, branch="exp/interrupted")
    process = subprocess.Popen(
        [str(BIN / "launch-job"), "--branch", "exp/interrupted"],
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until the run is really going
        if "sleeping" in line:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted; the run is recorded as crashed" in stderr
    store, run_id = only_run(home, "exp/interrupted")
    run = store.get(run_id)
    assert (run.state, run.reason) == (RunState.CRASHED, "interrupted (Ctrl-C)")
    assert not any((home / "worktrees").iterdir())


def test_launch_python_runs_the_entry_point(repo: Path, home: Path, tmp_path: Path) -> None:
    import sys

    commit_file(repo, "train.py", "import sys\nprint('interpreter', sys.executable)\n")
    wrapper = tmp_path / "training-python"  # stands for a separate training environment
    wrapper.write_text(f'#!/bin/sh\necho "via the training env"\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    env = offline_env(HARNESS_HOME=str(home), HARNESS_LAUNCH_PYTHON=str(wrapper))
    done = subprocess.run(
        [str(BIN / "launch-job"), "--branch", "main"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "via the training env" in done.stdout
    bad = subprocess.run(
        [str(BIN / "launch-job"), "--branch", "main"],
        cwd=repo,
        env={**env, "HARNESS_LAUNCH_PYTHON": str(tmp_path / "nope")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "HARNESS_LAUNCH_PYTHON: not an executable file" in bad.stderr


def test_wandb_runs_are_moved_out_of_the_worktree_but_never_through_a_symlink(
    repo: Path, home: Path, tmp_path: Path
) -> None:
    """A W&B run written inside the worktree is kept (Lightning writes to ``save_dir="."``);
    a folder outside it that a committed symlink points at is left where it is."""
    outside = tmp_path / "outside" / "wandb" / "offline-run-20260101_000000-other001"
    outside.mkdir(parents=True)
    (outside / "run-other001.wandb").write_bytes(b"not ours")
    (repo / "outputs").symlink_to(tmp_path / "outside")
    script = (
        "import os\n"
        "d = 'logs/wandb/offline-run-20260101_000000-mine0001'\n"
        "os.makedirs(d)\n"
        "open(os.path.join(d, 'run-mine0001.wandb'), 'wb').close()\n"
    )
    commit_file(repo, "train.py", script, branch="exp/links")
    assert launch(repo, home, "--branch", "exp/links").returncode == 0
    store, run_id = only_run(home, "exp/links")
    kept = home / "runs" / run_id / "wandb"
    assert [p.name for p in kept.iterdir()] == ["offline-run-20260101_000000-mine0001"]
    assert (outside / "run-other001.wandb").read_bytes() == b"not ours"
    assert any("is empty: the run wrote nothing" in w for w in store.get(run_id).warnings)


def test_a_module_entry_point_runs_under_python_dash_m(repo: Path, home: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "train.py").write_text("import sys\nprint('module', __name__, sys.argv[1:])\n")
    commit_file(
        repo,
        "harness.yaml",
        "launch: {command: python -m, entry_point: pkg.train, args: ['{seed}']}\n",
        branch="exp/module",
    )
    assert launch(repo, home, "--branch", "exp/module").returncode == 0
    store, run_id = only_run(home, "exp/module")
    assert "module __main__ ['0']" in store.log_tail(run_id)
    commit_file(
        repo,
        "harness.yaml",
        "launch: {command: python -m, entry_point: pkg.missing}\n",
        branch="exp/no-module",
    )
    assert launch(repo, home, "--branch", "exp/no-module").returncode == 1
    [run] = LocalStore(home).runs(branch="exp/no-module")
    assert run.reason is not None and run.reason.startswith("module pkg.missing does not exist")
