"""Golden renderings: a compare, a leaderboard and a failed branch's report, each in
Markdown, in the terminal (plain text at a fixed width, no colour) and as JSON, from fixed
runs. A change to any rendering shows up here as a diff to read; when it is meant,
regenerate with ``UPDATE_GOLDEN=1 pytest tests/test_golden.py``."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import Answer, BranchAnalysis, Changes, CurveSummary, ParamChange
from harness.compare import Comparison, compare
from harness.diagnose import diagnose
from harness.failures import group_failures, locate, parse_traceback, source_lines
from harness.leaderboard import Leaderboard
from harness.report import Report
from harness.runs import MetricSpec, Run, RunState

from .helpers import torch_log

GOLDEN = Path(__file__).parent / "golden"
METRICS = [
    MetricSpec("val/accuracy", "maximize", primary=True, min_delta=0.005),
    MetricSpec("val/loss", "minimize"),
]
TREE = frozenset({"experiments/digits/train.py"})
SOURCE = "\n".join(f"    line_{n} = {n}" for n in range(1, 121))


def run(branch: str, seed: int, acc: float | None, loss: float | None = None, **kw: Any) -> Run:
    summary = {} if acc is None else {"val/accuracy": acc, "val/loss": loss if loss else 1 - acc}
    return Run(
        id=f"{branch.replace('/', '-')}-{seed}",
        state=kw.pop("state", RunState.FINISHED),
        branch=branch,
        commit=(kw.pop("commit", branch[:1]) * 40)[:40],
        seed=seed,
        created_at=f"2026-11-0{seed + 1}T10:00:00+00:00",
        summary=summary,
        **kw,
    )


def runs() -> list[Run]:
    found = [run("main", s, a) for s, a in enumerate([0.80, 0.82, 0.81])]
    found += [run("exp/win", s, a, commit="b") for s, a in enumerate([0.90, 0.91, 0.905])]
    found += [run("exp/noise", s, a, commit="c") for s, a in enumerate([0.81, 0.80, 0.83])]
    found += [
        run("exp/crash", s, None, commit="d", state=RunState.FAILED, exit_code=1,
            reason="exit code 1: RuntimeError: mat1 and mat2 shapes cannot be multiplied")
        for s in range(3)
    ]  # fmt: skip
    return found


def comparison(branches: list[str] | None = None) -> Comparison:
    return compare(runs(), METRICS, baseline_branch="main", branches=branches)


def failed_branch() -> BranchAnalysis:
    comp = comparison(["exp/crash"])
    result = comp.branches[0]
    found = []
    for r in result.runs:
        log = torch_log(f"/tmp/worktree-{r.seed}", "64x784")
        tb = parse_traceback(log)
        diagnosis = diagnose(r, log)
        assert tb is not None and diagnosis is not None
        found.append((r, diagnosis, locate(tb, TREE)))
    failures = group_failures(found, source=lambda path, line: source_lines(SOURCE, path, line))
    diff = (
        "diff --git a/experiments/digits/train.py b/experiments/digits/train.py\n"
        "--- a/experiments/digits/train.py\n+++ b/experiments/digits/train.py\n"
        "@@ -30 +30 @@\n-    x = data[:, :64]\n+    x = data[:, :63]\n"
    )
    return BranchAnalysis(
        comparison=comp,
        result=result,
        reported_runs=result.runs,
        failures=tuple(failures),
        baseline_curves=tuple([(10, 0.5), (20, 0.7), (30, 0.8)] for _ in range(3)),
        curves=(CurveSummary("val/accuracy", "main", 3, 0.5, 0.8, 0.8, 30, 30),),
        params=(ParamChange("hidden", ("64",), ("63",)),),
        changes=Changes(
            "a" * 40, "d" * 40, ("ddddddd Feed 63 features",), " train.py | 2 +-", diff
        ),
        reproduce=("launch-job --branch exp/crash --seeds 3",),
        answer=Answer(
            "All 3 seeds raised `RuntimeError` at `train.py:30`.",
            "The input slice drops a feature: `data[:, :63]`.",
            "Slice 64 features again.",
            patch=diff.replace(
                "-    x = data[:, :64]\n+    x = data[:, :63]",
                "-    x = data[:, :63]\n+    x = data[:, :64]",
            ),
        ),
        analyst="Claude (Anthropic API)",
    )


def terminal_text(view: Report | Leaderboard | BranchAnalysis) -> str:
    from rich.console import Console

    from harness.render import terminal

    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False, soft_wrap=False)
    doc = view.document()
    terminal.render(doc, console)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


VIEWS = {
    "compare": lambda: Report("compare", comparison()),
    "leaderboard": lambda: Leaderboard(
        comparison(), stale={"exp/win": False, "exp/noise": True, "exp/crash": None}
    ),
    "failed-branch": failed_branch,
}


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: UPDATE_GOLDEN=1 writes it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed (see the diff above)"


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_markdown(name: str) -> None:
    check(f"{name}.md", VIEWS[name]().to_markdown())


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_terminal(name: str) -> None:
    check(f"{name}.txt", terminal_text(VIEWS[name]()))


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_json(name: str) -> None:
    data = VIEWS[name]().to_json()
    check(f"{name}.json", json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
