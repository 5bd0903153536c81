"""harness gc: leftover worktrees of killed launchers go (a running run's stays), and with
--runs-older-than, old ended runs and launch records; --dry-run removes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from harness.liveness import this_process
from harness.manifest import write_json_atomic

from .helpers import commit_file, git, invoke, make_repo, offline_env, write_run
from .schemas import assert_valid

GONE = {"pid": 2**22 + 17, "host": "elsewhere-never", "token": None}  # not provable here


def test_gc_removes_what_no_run_needs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "train.py", "print('hi')\n")
    home = tmp_path / "store"
    head = git(repo, "rev-parse", "HEAD")
    for run_id, state, owner in (("dead1", "crashed", None), ("live1", "running", this_process())):
        write_run(home, run_id, state=state, ended_at=None, owner=owner,
                  created_at="2026-11-30T00:00:00+00:00")  # fmt: skip
        git(repo, "worktree", "add", "--detach", "--quiet", str(home / "worktrees" / run_id), head)
    write_run(home, "old1", created_at="2026-01-01T00:00:00+00:00",
              ended_at="2026-01-01T01:00:00+00:00")  # fmt: skip
    write_run(home, "new1", created_at="2026-11-30T00:00:00+00:00",
              ended_at="2099-01-01T00:00:00+00:00")  # fmt: skip
    ended = {"id": "l1", "ended_at": "2026-01-01T01:00:00+00:00", "owner": GONE}
    write_json_atomic(home / "launches" / "l1.json", ended)
    env = offline_env(HARNESS_HOME=str(home))

    dry = invoke("harness", "gc", "--runs-older-than", "30d", "--dry-run", "--format", "json",
                 cwd=repo, env=env)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert_valid("gc", plan)
    assert plan == {
        "schema_version": 1,
        "dry_run": True,
        "worktrees": [str(home / "worktrees" / "dead1")],
        "runs": ["old1"],
        "launches": ["l1"],
    }
    assert (home / "worktrees" / "dead1").exists() and (home / "runs" / "old1").exists()

    done = invoke("harness", "gc", "--runs-older-than", "30d", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed 1 worktree(s), 1 run(s), 1 launch record(s)")
    assert sorted(p.name for p in (home / "worktrees").iterdir()) == ["live1"]
    assert sorted(p.name for p in (home / "runs").iterdir()) == ["dead1", "live1", "new1"]
    assert not (home / "launches" / "l1.json").exists()
    assert "dead1" not in git(repo, "worktree", "list") and "live1" in git(repo, "worktree", "list")

    again = invoke("harness", "gc", cwd=repo, env=env)  # nothing left to collect
    assert again.stdout.startswith("removed 0 worktree(s), 0 run(s), 0 launch record(s)")
