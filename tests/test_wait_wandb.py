"""check-results wait --backend wandb: the real ``wandb`` client polls a local W&B server
while a launch's items go from queued to running to finished, or fail to start; and a
launch's budget counts the items still waiting in the queue.

The branch is queued with the real ``launch-job``; then the test does what a Launch agent
does (claims an item and starts its run, or fails the item), and the waiter's progress
lines on stderr are read one by one before the next step, so every state is seen.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from .helpers import BIN, METRICS_YAML, commit_file, git
from .servers.wandb_server import FakeRun, WandbServer
from .test_wandb_launch import CONFIG, Served, launch, launched, push, repo, served

pytestmark = pytest.mark.slow  # the real wandb client, per poll

__all__ = ["repo", "served"]  # fixtures, used by name


@pytest.fixture
def scored(served: Served, tmp_path: Path) -> Iterator[Served]:
    """Metrics in this checkout's settings, and three baseline runs of main on W&B."""
    repo, server, env = served
    settings = tmp_path / "scored.yaml"
    settings.write_text(CONFIG + METRICS_YAML)
    main = git(repo, "rev-parse", "main")
    for seed, accuracy in enumerate((0.50, 0.51, 0.49)):
        server.add(
            FakeRun(
                f"base{seed}",
                config={"branch": "main", "commit": main, "seed": seed},
                summary={"val/accuracy": accuracy, "val/loss": 1.0},
            )
        )
    yield repo, server, {**env, "HARNESS_CONFIG": str(settings)}


def start_wait(served: Served, *args: str) -> subprocess.Popen[str]:
    repo, _, env = served
    return subprocess.Popen(
        [str(BIN / "check-results"), "wait", "--branch", "exp/x", "--interval", "0.5s", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def said(stream: IO[str] | None, wanted: str, timeout: float = 60) -> str:
    """Read the waiter's progress lines until one contains ``wanted``."""
    assert stream is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if wanted in line:
            return line
        seen.append(line)
    raise AssertionError(f"the waiter never said {wanted!r}; it said {''.join(seen)!r}")


def agent_run(server: WandbServer, item: dict[str, Any], state: str, accuracy: float) -> FakeRun:
    """The run an agent starts for a queued item: its run id and run config."""
    spec = next(i for i in server.queued if i["id"] == item["id"])["runSpec"]
    config = dict(spec["overrides"]["run_config"])
    return server.add(
        FakeRun(
            item["run_id"],
            state=state,
            config=config,
            summary={"val/accuracy": accuracy, "val/loss": 0.5},
        )
    )


@pytest.mark.parametrize("spec_as", ["object", "string"])
def test_wait_sees_queued_then_running_then_finished(scored: Served, spec_as: str) -> None:
    _, server, _ = scored
    server.run_spec_as = spec_as  # runSpec is a JSON scalar: W&B may serve either
    items = launched(scored, "--branch", "exp/x", "--seeds", "2")["items"]
    waiter = start_wait(scored, "--format", "json", "--timeout", "120s")
    try:
        said(waiter.stderr, "0 of 0 run(s) ended, 2 queued")
        for item in items:
            server.claim(item["id"], item["run_id"])
        runs = [agent_run(server, item, "running", 0.9 + i / 100) for i, item in enumerate(items)]
        said(waiter.stderr, "0 of 2 run(s) ended")
        runs[0].state = "finished"
        said(waiter.stderr, "1 of 2 run(s) ended")
        runs[1].state = "finished"
        out, err = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
    report = json.loads(out)
    [branch] = report["branches"]
    assert sorted(run["id"] for run in branch["runs"]) == sorted(i["run_id"] for i in items)
    assert {run["state"] for run in branch["runs"]} == {"finished"}
    codes = {"better": 0, "worse": 10, "inconclusive": 11}
    assert waiter.returncode == codes[branch["primary_verdict"]], err
    polls = [name for name, _ in server.requests if name == "HarnessQueueItems"]
    details = [name for name, _ in server.requests if name == "HarnessQueueItem"]
    assert len(polls) >= 3 and len(details) == len(items)  # each item's spec asked for once


def test_an_item_that_fails_to_start_is_a_failed_run(scored: Served) -> None:
    _, server, _ = scored
    items = launched(scored, "--branch", "exp/x", "--seeds", "2")["items"]
    waiter = start_wait(scored, "--format", "json", "--timeout", "120s")
    try:
        said(waiter.stderr, "2 queued")
        for item in items:
            server.fail(item["id"], "could not pull image harness:latest", stage="build")
        out, err = waiter.communicate(timeout=60)
    finally:
        waiter.kill()
    assert waiter.returncode == 13, err  # failed
    [branch] = json.loads(out)["branches"]
    assert branch["primary_verdict"] == "failed"
    assert [run["state"] for run in branch["runs"]] == ["failed", "failed"]
    reasons = {run["reason"] for run in branch["runs"]}
    assert reasons == {
        "the launch agent could not start it: could not pull image harness:latest (stage: build)"
    }


def test_a_wait_for_items_that_never_start_times_out(scored: Served) -> None:
    launched(scored, "--branch", "exp/x")
    waiter = start_wait(scored, "--timeout", "3s")
    _, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 124
    assert err.strip().splitlines()[-1] == (
        "check-results wait: timed out after 3s waiting for exp/x @ "
        f"{git(scored[0], 'rev-parse', '--short=7', 'exp/x')} (0 of 0 run(s) ended, 1 queued)"
    )


def test_a_w_and_b_launch_over_budget_queues_nothing(served: Served) -> None:
    """The baseline's budget counts the branch's items still waiting in the queue: a
    second launch that would pass runs_per_branch is refused, and nothing more is queued.
    """
    repo, server, _ = served
    git(repo, "checkout", "--quiet", "main")
    commit_file(repo, "harness.yaml", CONFIG + "budget: {runs_per_branch: 3}\n")
    git(repo, "checkout", "--quiet", "-b", "exp/b")
    commit_file(repo, "train.py", "print('b')\n")
    push(repo, "main", "exp/b")
    launched(served, "--branch", "exp/b", "--seeds", "2")
    queued, jobs = len(server.queued), len(server.artifacts)

    again = launch(served, "--branch", "exp/b", "--seeds", "2")

    assert again.returncode == 2
    assert again.stderr.strip() == (
        "launch-job: error: exp/b: over budget, nothing queued: "
        "runs_per_branch 3: 2 spent + 2 asked"
    )
    assert (len(server.queued), len(server.artifacts)) == (queued, jobs)  # no job made


def test_a_seed_launched_again_after_failing_to_start_counts_once(scored: Served) -> None:
    """The agent was broken, its item failed; fixed, the same commit is launched again:
    the new run is the seed's, the old failed item no longer counts."""
    _, server, _ = scored
    [old] = launched(scored, "--branch", "exp/x", "--seeds", "1")["items"]
    server.fail(old["id"], "no GPU", stage="run")
    [new] = launched(scored, "--branch", "exp/x", "--seeds", "1")["items"]
    server.claim(new["id"], new["run_id"])
    agent_run(server, new, "finished", 0.9)
    waiter = start_wait(scored, "--format", "json", "--timeout", "60s")
    out, err = waiter.communicate(timeout=120)
    [branch] = json.loads(out)["branches"]
    assert [run["id"] for run in branch["runs"]] == [new["run_id"]], err
    assert branch["runs"][0]["state"] == "finished"
