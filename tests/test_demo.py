"""`make demo` end to end: baseline and experiment branches run with seeds, compared with
statistics, ranked, plotted, winner named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import REPO_ROOT, offline_env

pytestmark = pytest.mark.slow


def test_demo_names_the_winner_and_leaves_the_repository_alone() -> None:
    user_store = REPO_ROOT / ".harness" / "runs"
    runs_before = sorted(user_store.iterdir()) if user_store.exists() else []
    before = subprocess.run(
        ["git", "branch", "--list"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "misc" / "demo.py")],
        cwd=REPO_ROOT,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    # three seeds per branch, judged by Welch's t-test (and Holm's correction for the winner)
    assert "Winner: exp/wider-mlp beats main on val/accuracy" in out
    assert re.search(r"Winner: exp/wider-mlp beats .* \(n=3\) vs .* \(n=3\), .* — p=", out)
    assert re.search(r"exp/high-lr\s+\w+\s+3 finished\s+\S+ worse", out)
    assert re.search(r"exp/broken-input\s+\w+\s+3 failed\s+\S+ failed", out)
    assert re.search(r"^1\s+exp/wider-mlp\s+\w+\s+3 finished\s+\S+ better\s.*winner\s*$", out, re.M)
    scratch = Path(re.search(r"Everything is in (\S+):", out).group(1))  # type: ignore[union-attr]
    try:
        reports = scratch / "store" / "reports"
        assert {p.name for p in (reports / "exp").iterdir()} == {
            "wider-mlp.md",
            "high-lr.md",
            "broken-input.md",
        }
        assert (
            "RuntimeError: mat1 and mat2 shapes"
            in (reports / "exp" / "broken-input.md").read_text()
        )
        # three seeds failing the same way: one entry, the repository's frames, no machine path
        broken = (scratch / "reports" / "exp%2Fbroken-input.md").read_text()
        assert "#### 💥 3 of 3 run(s) (seeds 0, 1, 2) failed: exception" in broken
        assert broken.count("Traceback (most recent call last)") == 1
        assert 'File "experiments/digits/train.py", line' in broken and "library frame(s)" in broken
        assert "→ " in broken and "63" in broken  # the failing line, and the diff's change
        assert str(scratch) not in broken and "site-packages" not in broken
        index = json.loads((scratch / "reports" / "index.json").read_text())
        assert {r["branch"]: r["verdict"] for r in index["reports"]} == {
            "exp/broken-input": "failed",
            "exp/high-lr": "worse",
            "exp/wider-mlp": "better",
            "main": "baseline",
        }
        wider = (scratch / "reports" / "exp%2Fwider-mlp.md").read_text()
        assert "```mermaid" in wider and "Widen the hidden layer" in wider
        assert (scratch / "val-accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        shutil.rmtree(scratch)
    after = subprocess.run(
        ["git", "branch", "--list"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert before == after
    assert (sorted(user_store.iterdir()) if user_store.exists() else []) == runs_before
