"""`make agent-demo` end to end: a scripted agent that decides from the CLI's JSON alone
finds a branch significantly better than the baseline, and each idea after a win is
branched from the winner."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import BIN, REPO_ROOT, offline_env

pytestmark = pytest.mark.slow


def test_the_scripted_agent_ends_with_a_significant_winner() -> None:
    done = subprocess.run(  # two ideas (the Makefile's four take twice as long)
        [sys.executable, str(REPO_ROOT / "misc" / "agent_demo.py"), "--experiments", "2", "--keep"],
        cwd=REPO_ROOT,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    scratch = Path(re.search(r"Everything is in (\S+)", out).group(1))  # type: ignore[union-attr]
    try:
        winner = re.search(r"^Winner: (\S+) is significantly better than main", out, re.M)
        assert winner, out
        kept = re.findall(r"^  (\S+): .* -> keep; the next ideas branch from it$", out, re.M)
        tried = re.findall(r"^  (agent/\S+): ", out, re.M)
        assert len(tried) == 2 and winner.group(1) in kept
        # the idea after a win was built on the winner, and judged against it
        first, second = tried
        if first in kept:
            assert f"vs {first}:" in out
            repo = scratch / "repo"
            base = subprocess.run(
                ["git", "merge-base", "--is-ancestor", first, second], cwd=repo, check=False
            )
            assert base.returncode == 0
        # what the agent claims, checked independently on its store
        shown = subprocess.run(
            [
                str(BIN / "check-results"),
                "summary",
                "--branch",
                winner.group(1),
                "--format",
                "json",
            ],
            cwd=scratch / "repo",
            env=offline_env(HARNESS_HOME=str(scratch / "store")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        [branch] = json.loads(shown.stdout)["branches"]
        primary = next(m for m in branch["metrics"] if m["primary"])
        assert branch["primary_verdict"] == "better"
        assert primary["evidence"]["p_value"] < 0.05 and not primary["evidence"]["single_seed"]
        assert primary["value"]["n"] == 3 and primary["baseline"]["n"] == 3
    finally:
        shutil.rmtree(scratch)
