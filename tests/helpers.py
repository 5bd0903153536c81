"""What the tests share: stores written by the real manifest writer, temporary git
repositories, the console scripts run as a user runs them, and stores built once per
session (across pytest-xdist workers). Fixtures live in conftest.py and use these."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from harness.manifest import read_json, update_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# The prefixes of the variables a test never inherits from the host.
ISOLATED = ("HARNESS_", "WANDB_", "ANTHROPIC_")
# GitHub's pacing (a second between writes) and the backoff before a retry are settings;
# a test's GitHub is local and answers at once, so its scripts do not wait.
FAST_WAITS = {"HARNESS_GITHUB_WRITE_INTERVAL": "0", "HARNESS_GITHUB_RETRY_WAIT": "0"}

METRICS_YAML = """\
metrics:
  - {name: val/accuracy, goal: maximize, primary: true, min_delta: 0.01}
  - {name: val/loss, goal: minimize}
"""


def write_run(home: Path, run_id: str, **fields: Any) -> Path:
    """A run directory written through the same function the launcher and tracking use."""
    defaults: dict[str, Any] = {
        "branch": "main",
        "commit": "a" * 40,
        "seed": 0,
        "state": "finished",
        "exit_code": 0,
        "created_at": "2026-01-01T00:00:00+00:00",
        "summary": {},
        "config": {},
    }
    defaults.update(fields)
    run_dir = home / "runs" / run_id
    update_manifest(run_dir, **defaults)
    return run_dir


def acc(value: float, loss: float | None = None) -> dict[str, Any]:
    """A summary in W&B's define_metric(summary="max,last") shape."""
    summary: dict[str, Any] = {"val/accuracy": {"last": value, "max": value}}
    if loss is not None:
        summary["val/loss"] = {"last": loss, "min": loss}
    return summary


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(path: Path) -> Path:
    """A new git repository on branch main with an identity of its own."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    return path


def commit_file(repo: Path, name: str, text: str, *, branch: str | None = None) -> str:
    if branch:
        git(repo, "checkout", "--quiet", "-B", branch)
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", f"update {name}")
    return git(repo, "rev-parse", "HEAD")


def offline_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The test process's environment without HARNESS_*/WANDB_*/ANTHROPIC_*, plus
    ``FAST_WAITS`` and ``extra``."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith(ISOLATED)}
    env.update(FAST_WAITS)
    env.update(extra)
    return env


def run_python(code: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


PLAIN_WANDB_RUN = """
import os, wandb
d = os.environ["RUN_DIR"]
os.makedirs(d, exist_ok=True)
os.environ.update(WANDB_MODE="offline", WANDB_ERROR_REPORTING="false", WANDB_SILENT="true",
                  WANDB_DIR=d, WANDB_DATA_DIR=d, WANDB_CACHE_DIR=d, WANDB_CONFIG_DIR=d)
run = wandb.init(project="plain", id=os.environ["RUN_ID"], dir=d,
                 config={"branch": "exp/plain", "commit": "b" * 40, "lr": 0.1})
for step in range(5):
    run.log({"val/accuracy": 0.5 + step / 10}, step=step)
print("plain run says hello")
run.finish()
"""


def wandb_records(wandb_dir: Path) -> list[dict[str, Any]]:
    """Every record of an offline run, as W&B's own reader prints them
    (``wandb leet inspect --json``): the independent check of what a run logged."""
    done = subprocess.run(
        [str(BIN / "wandb"), "leet", "inspect", "--json", str(wandb_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=offline_env(WANDB_ERROR_REPORTING="false"),
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def run_cli(
    program: str, repo: Path, home: Path, *args: str, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """One of our console scripts, run as a user would, on the store at ``home``."""
    return subprocess.run(
        [str(BIN / program), *args],
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(
    program: str,
    repo: Path,
    home: Path,
    *args: str,
    stdout: int = subprocess.PIPE,
    stderr: int = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """One of our console scripts started in its own process (``run_cli``, not waited for):
    the caller waits, signals it, and closes the pipes it asked for."""
    return subprocess.Popen(
        [str(BIN / program), *args],
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home)),
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


@dataclass(frozen=True)
class Ran:
    """What a console script did: its exit status and what it printed (as subprocess's)."""

    returncode: int
    stdout: str
    stderr: str


def invoke(program: str, *args: str, cwd: Path, env: Mapping[str, str]) -> Ran:
    """One of our console scripts run in this process with click's CliRunner, in ``cwd``
    with exactly ``env`` as its environment: what a subprocess would print and return,
    without a new interpreter's start-up and imports (about a second each). For commands
    whose own process is not under test; never for wandb's (its service is per process)."""
    from click.testing import CliRunner

    from harness.cli import harness_cli, launch_cli, results_cli

    command = {"harness": harness_cli, "check-results": results_cli, "launch-job": launch_cli}
    environment: dict[str, str | None] = {name: None for name in os.environ if name not in env}
    environment.update(env)
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            command[program], list(args), env=environment, prog_name=program
        )
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


TRACKED = """
from harness import tracking
run = tracking.init(config={"lr": 0.1})
for step in range(1, 6):
    run.log({"val/accuracy": ACC * step / 5, "val/loss": 1 - ACC * step / 5}, step=step * 10)
run.finish()
"""
NAN = """
from harness import tracking
run = tracking.init(config={}, log_every=2)
for step in range(10):
    run.step(float("nan") if step > 3 else 1.0)
"""


def fresh_store(home: Path, dest: Path) -> Path:
    """A copy of a store with no run reported yet (a test may then mark runs freely)."""
    shutil.copytree(home, dest, ignore=shutil.ignore_patterns("out*", "analysis", "reports"))
    for manifest in dest.glob("runs/*/harness.json"):
        data = read_json(manifest)
        data.pop("reported_at", None)
        manifest.write_text(json.dumps(data))
    return dest


def claude_bin() -> str:
    """The Claude Code CLI that `make test` installs under .tools/."""
    found = os.environ.get("HARNESS_TEST_CLAUDE_BIN") or str(
        REPO_ROOT / ".tools" / "node_modules" / ".bin" / "claude"
    )
    if not Path(found).exists():
        pytest.skip("the claude CLI is not installed (make test installs it)")
    return found


def torch_log(worktree: str, size: str) -> list[str]:
    """What a shape mismatch in a torch model prints, from a run in ``worktree``."""
    venv = "/home/alice/proj/.venv/lib/python3.11/site-packages"
    return [
        "epoch 1 loss 2.30",
        "Traceback (most recent call last):",
        f'  File "{worktree}/experiments/digits/train.py", line 42, in <module>',
        "    loss = step(model, batch)",
        f'  File "{worktree}/experiments/digits/train.py", line 30, in step',
        "    out = model(x)",
        "          ^^^^^^^^",
        f'  File "{venv}/torch/nn/modules/module.py", line 1739, in _wrapped_call_impl',
        "    return self._call_impl(*args, **kwargs)",
        f'  File "{venv}/torch/nn/modules/module.py", line 1750, in _call_impl',
        "    return forward_call(*args, **kwargs)",
        f'  File "{venv}/torch/nn/modules/linear.py", line 125, in forward',
        "    return F.linear(input, self.weight, self.bias)",
        f"RuntimeError: mat1 and mat2 shapes cannot be multiplied ({size} and 10x128)"
        f" at 0x7f{size[:2]}ab12 in {worktree}/experiments/digits/train.py",
    ]


def wandb_env(url: str, api_key: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a console script talking to a local W&B server (entity ``team``):
    its own config folder, and wandb-core's retries kept short."""
    return offline_env(
        WANDB_BASE_URL=url,
        WANDB_API_KEY=api_key,
        WANDB_ENTITY="team",
        WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"),
        WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS="0.2",
        WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS="0.5",
        **extra,
    )


def build_ended_runs(root: Path) -> tuple[Path, Path]:
    """A repository whose store holds a baseline and four branches' ended runs: one
    finished better, one failed with a traceback, one killed by a signal, one NaN loss."""
    repo, home = root / "repo", root / "store"
    make_repo(repo)
    commit_file(
        repo,
        "harness.yaml",
        "wandb: {project: test}\nlaunch: {entry_point: train.py}\n" + METRICS_YAML,
    )
    commit_file(repo, "train.py", TRACKED.replace("ACC", "0.80"))
    branches = {
        "exp/good": ("train.py", TRACKED.replace("ACC", "0.90")),
        "exp/fails": ("train.py", "def f():\n    raise ValueError('shapes do not match')\nf()\n"),
        "exp/killed": ("train.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
        "exp/nan": ("train.py", NAN),
    }
    for branch, (name, text) in branches.items():
        git(repo, "checkout", "--quiet", "-b", branch, "main")
        if branch == "exp/nan":
            (repo / "harness.yaml").write_text(
                (repo / "harness.yaml").read_text() + "tracking: {stop_on_nonfinite: true}\n"
            )
        commit_file(repo, name, text)
        git(repo, "checkout", "--quiet", "main")
    for branch in ["main", *branches]:
        done = run_cli("harness", repo, home, "launch", "--branch", branch)
        assert done.returncode in (0, 1), done.stderr
    return repo, home


def session_temp(factory: Any) -> Path:
    """The session's temporary folder (from a ``pytest.TempPathFactory``), shared by its
    pytest-xdist workers: each worker's own base folder is one level down."""
    base: Path = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(base: Path, name: str, build: Callable[[Path], Any]) -> Path:
    """``build(folder)`` run once for the whole session, whichever pytest-xdist worker asks
    first; the others wait for it and share the result. ``base`` is the parent of the
    workers' temporary folders (``session_temp``). What is built
    this way is read, never written: a test that writes copies it first."""
    folder = base / name
    done = base / f"{name}.done"
    with FileLock(str(base / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder
