"""A storm of run-ended events: 50 deliveries at once still end as one comment per PR.

Ten branches' five runs each end together, and each run's webhook starts what the
run-finished workflow runs: ``harness analyze`` (every new run, ``HARNESS_ANALYZE_ALL``, the
event read from ``GITHUB_EVENT_PATH``) then ``harness comment``, all 50 at once against one
local GitHub. On GitHub the workflows' shared concurrency group runs them one at a time;
this is what happens when that does not hold (act cannot run workflows concurrently, so the
real console scripts are started directly). ``benchmarks/storm.py`` times the same storm.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.manifest import read_json
from harness.render.markdown import marker

from .helpers import BIN, METRICS_YAML, acc, offline_env, write_run
from .servers.github_server import ACTIONS_BOT, GithubServer

pytestmark = pytest.mark.slow  # 100 processes

REPO = "octo/storm"
BRANCHES = tuple(f"exp/b{i}" for i in range(10))
SEEDS = 5
REPORTED = "2026-01-01T01:00:00+00:00"


def run_id(branch: str, seed: int) -> str:
    return f"{branch.removeprefix('exp/')}s{seed}"


def build_storm(root: Path) -> tuple[Path, Path]:
    """``root/repo`` (a harness.yaml) and ``root/store``: a baseline reported long ago, and
    SEEDS ended runs of each branch, none reported."""
    repo, home = root / "repo", root / "store"
    repo.mkdir(parents=True)
    (repo / "harness.yaml").write_text(
        "wandb: {project: test}\nanalysis: {engine: none}\n" + METRICS_YAML
    )
    for seed in range(3):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80), reported_at=REPORTED)
    for number, branch in enumerate(BRANCHES):
        for seed in range(SEEDS):
            write_run(
                home,
                run_id(branch, seed),
                branch=branch,
                commit=f"{number:x}" * 40,
                seed=seed,
                summary=acc(0.85 + seed / 100),
                ended_at="2026-01-02T00:00:00+00:00",
            )
    return repo, home


@dataclass(frozen=True)
class Member:
    """One workflow run of the storm: its event, what its two steps did, how long it took."""

    event: Path
    analyzed: subprocess.CompletedProcess[str]
    commented: subprocess.CompletedProcess[str] | None
    seconds: float

    @property
    def deliveries(self) -> list[dict[str, object]]:
        if self.commented is None or not self.commented.stdout:
            return []
        found: list[dict[str, object]] = json.loads(self.commented.stdout)["deliveries"]
        return found


def events(tmp: Path) -> list[Path]:
    """One repository_dispatch event file per run, naming its run and branch."""
    found = []
    for branch in BRANCHES:
        for seed in range(SEEDS):
            payload = {"project_name": "test", "branch": branch, "run_id": run_id(branch, seed)}
            event = tmp / "events" / f"{run_id(branch, seed)}.json"
            event.parent.mkdir(parents=True, exist_ok=True)
            event.write_text(
                json.dumps({"action": "wandb_run_finished", "client_payload": payload})
            )
            found.append(event)
    return found


def storm(
    repo: Path, home: Path, gh: GithubServer, tmp: Path, *, count: int | None = None
) -> list[Member]:
    """Each event's workflow steps (analyze, then comment) in their own processes, every
    event's at once (the first ``count`` events only, when given)."""
    dispatched = events(tmp)[:count]
    start = threading.Barrier(len(dispatched))

    def member(index: int, event: Path) -> Member:
        env = offline_env(
            HARNESS_HOME=str(home),
            HARNESS_ANALYZE_ALL="true",  # as both report workflows set it
            GITHUB_EVENT_NAME="repository_dispatch",
            GITHUB_EVENT_PATH=str(event),
            GITHUB_API_URL=gh.url,
            GITHUB_REPOSITORY=REPO,
            GITHUB_TOKEN=gh.token,
            GITHUB_STEP_SUMMARY=str(tmp / f"summary-{index}.md"),
        )
        out = tmp / f"out-{index}"

        def step(*args: str) -> subprocess.CompletedProcess[str]:
            command = [str(BIN / "harness"), *args]
            return subprocess.run(
                command, cwd=repo, env=env, capture_output=True, text=True, timeout=240
            )

        start.wait()
        began = time.monotonic()
        analyzed = step("analyze", "--out", str(out))
        commented = (
            step("comment", str(out), "--format", "json") if analyzed.returncode == 0 else None
        )
        return Member(event, analyzed, commented, time.monotonic() - began)

    with ThreadPoolExecutor(max_workers=len(dispatched)) as pool:
        return list(pool.map(member, range(len(dispatched)), dispatched))


@pytest.fixture
def github() -> Iterator[tuple[GithubServer, dict[str, int]]]:
    with GithubServer() as gh:
        gh.add_repo(REPO)
        yield gh, {branch: gh.add_pull(REPO, head=branch) for branch in BRANCHES}
        assert gh.violations == []


@pytest.mark.timeout(600)  # about 2 minutes alone on 2 cores; longer beside other tests
def test_fifty_deliveries_at_once_end_as_one_comment_per_pr(
    github: tuple[GithubServer, dict[str, int]], tmp_path: Path
) -> None:
    gh, prs = github
    repo, home = build_storm(tmp_path)
    members = storm(repo, home, gh, tmp_path)

    for m in members:
        assert m.analyzed.returncode == 0, m.analyzed.stderr
        assert m.commented is not None
        assert m.commented.returncode == 0, m.commented.stderr
    for branch in BRANCHES:
        [comment] = gh.comments(REPO, prs[branch])
        assert comment.user == ACTIONS_BOT
        assert comment.body.startswith(marker("summary", branch) + "\n")
        assert all(f"`{run_id(branch, s)}`" in comment.body for s in range(SEEDS))
    # Every run marked reported, and every manifest whole: identity, state and summary kept.
    for branch in BRANCHES:
        for seed in range(SEEDS):
            manifest = read_json(home / "runs" / run_id(branch, seed) / "harness.json")
            assert manifest["reported_at"] and manifest["branch"] == branch
            assert manifest["state"] == "finished" and manifest["summary"]
    assert not list(home.glob("runs/*/.*"))  # no temporary file left behind
    # Each branch's report went out, and no delivery failed.
    deliveries = [d for m in members for d in m.deliveries]
    assert {d["branch"] for d in deliveries} == set(BRANCHES)
    assert all(d["action"] != "failed" for d in deliveries)
