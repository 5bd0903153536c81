"""Reports: markers, escaping of untrusted text, and the import-cost rule for core."""

from __future__ import annotations

import subprocess
import sys

from harness.compare import compare
from harness.render.markdown import marker
from harness.report import Report
from harness.runs import MetricSpec, Run, RunState

from .helpers import REPO_ROOT

ACC = MetricSpec("val/accuracy", "maximize", primary=True)


def test_marker_encodes_the_branch_so_it_cannot_close_the_comment() -> None:
    assert marker("summary", "exp/a-->b") == "<!-- harness:report branch=exp%2Fa--%3Eb -->"
    assert marker("compare") == "<!-- harness:compare -->"
    assert marker("summary", "exp/a") != marker("summary", "exp/a-b")


def test_untrusted_text_is_neutralised_in_markdown() -> None:
    runs = [
        Run(id="b", state=RunState.FINISHED, branch="main", summary={"val/accuracy": 0.9}),
        Run(
            id="c",
            state=RunState.FAILED,
            branch="exp/<img src=x>@team",
            exit_code=1,
            reason="exit code 1: <script>alert(1)</script> | @octocat",
        ),
    ]
    comparison = compare(runs, [ACC], baseline_branch="main", branches=["exp/<img src=x>@team"])
    md = Report("summary", comparison).to_markdown()
    assert "<img" not in md and "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "@octocat" not in md
    assert "\\| @\u200boctocat" in md  # the pipe cannot break the table either


def test_core_and_cli_import_neither_wandb_nor_torch() -> None:
    code = (
        "import sys, harness, harness.cli, harness.pipelines, harness.stores, harness.tracking\n"
        "import harness.compare, harness.stats, harness.report, harness.leaderboard, harness.plot\n"
        "heavy = {'wandb', 'torch', 'anthropic', 'github', 'sklearn', 'numpy', 'scipy',\n"
        "         'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
