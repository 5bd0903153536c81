"""Core: runs, branch names, comparisons and their verdicts (pure, no I/O)."""

from __future__ import annotations

import math

import pytest

from harness.compare import Sample, compare, compare_metric, select_baseline
from harness.errors import BranchError
from harness.git import validate_branch
from harness.runs import MetricSpec, Run, RunState

ACC = MetricSpec("val/accuracy", "maximize", primary=True, min_delta=0.01)
LOSS = MetricSpec("val/loss", "minimize")


def run(
    run_id: str,
    branch: str = "main",
    commit: str = "c1",
    state: RunState = RunState.FINISHED,
    created: str = "2026-01-01T00:00:00",
    **summary: object,
) -> Run:
    names = {"acc": "val/accuracy", "loss": "val/loss"}
    return Run(
        id=run_id,
        state=state,
        branch=branch,
        commit=commit,
        created_at=created,
        summary={names[k]: v for k, v in summary.items()},
    )


@pytest.mark.parametrize(
    ("value", "which", "expected"),
    [
        (0.9, "final", 0.9),
        ({"last": 0.8, "max": 0.9}, "final", 0.8),
        ({"last": 0.8, "max": 0.9}, "best", 0.9),
        ({"min": 0.1}, "final", 0.1),
        (float("nan"), "final", None),
        (float("inf"), "final", None),
        ("0.9", "final", None),
        (True, "final", None),
        ({"weird": 1}, "final", None),
    ],
)
def test_metric_reads_every_wandb_summary_shape(
    value: object, which: str, expected: object
) -> None:
    r = Run(id="r", state=RunState.FINISHED, summary={"m": value})
    assert r.metric("m", which=which) == expected  # type: ignore[arg-type]


def test_state_parsing_maps_wandb_words() -> None:
    assert RunState.parse("killed") is RunState.CRASHED
    assert RunState.parse("FINISHED") is RunState.FINISHED
    assert RunState.parse("nonsense") is RunState.UNKNOWN
    assert RunState.parse(None) is RunState.UNKNOWN


@pytest.mark.parametrize("name", ["main", "exp/wider-mlp", "feature/a.b_c", "v1.2", "a@b"])
def test_valid_branch_names(name: str) -> None:
    assert validate_branch(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a..b",
        "a b",
        "-x",
        "a/",
        "/a",
        "a//b",
        "a.",
        ".a",
        "a/.b",
        "x.lock",
        "a@{1}",
        "@",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[",
        "a\\b",
        "a\x00",
        "a" * 256,
    ],
)
def test_invalid_branch_names(name: str) -> None:
    with pytest.raises(BranchError, match="invalid branch name"):
        validate_branch(name)


def test_sample_statistics() -> None:
    s = Sample((1.0, 2.0, 3.0))
    assert (s.n, s.mean) == (3, 2.0)
    assert s.std == pytest.approx(1.0)
    assert Sample((5.0,)).std is None


@pytest.mark.parametrize(
    ("spec", "base", "cand", "verdict"),
    [
        (ACC, 0.90, 0.95, "better"),
        (ACC, 0.90, 0.85, "worse"),
        (ACC, 0.90, 0.905, "inconclusive"),  # within min_delta
        (LOSS, 0.50, 0.40, "better"),  # lower is better
        (LOSS, 0.50, 0.60, "worse"),
        (LOSS, 0.50, 0.50, "inconclusive"),
    ],
)
def test_verdicts_are_direction_aware(
    spec: MetricSpec, base: float, cand: float, verdict: str
) -> None:
    key = "acc" if spec is ACC else "loss"
    result = compare_metric(spec, [run("b", **{key: base})], [run("c", **{key: cand})])
    assert result.verdict == verdict
    assert result.delta == pytest.approx(cand - base)
    assert result.rel_delta == pytest.approx((cand - base) / base)
    assert result.evidence.single_seed
    assert result.evidence.threshold == (spec.min_delta or 0.0)


def test_failed_and_missing_are_distinct() -> None:
    base = [run("b", acc=0.9)]
    failed = compare_metric(
        ACC, base, [run("c", state=RunState.FAILED), run("d", state=RunState.CRASHED)]
    )
    assert failed.verdict == "failed"
    running = compare_metric(ACC, base, [run("c", state=RunState.RUNNING)])
    assert running.verdict == "missing"
    no_value = compare_metric(ACC, base, [run("c")])
    assert no_value.verdict == "missing"
    no_baseline = compare_metric(ACC, [], [run("c", acc=0.9)])
    assert no_baseline.verdict == "missing" and no_baseline.delta is None


def test_one_failed_seed_does_not_hide_the_finished_ones() -> None:
    result = compare_metric(
        ACC, [run("b", acc=0.9)], [run("c", acc=0.95), run("d", state=RunState.FAILED)]
    )
    assert result.verdict == "better"
    assert result.candidate is not None and result.candidate.n == 1


def test_several_seeds_are_averaged_with_spread() -> None:
    result = compare_metric(
        ACC,
        [run("b1", acc=0.90), run("b2", acc=0.92)],
        [run("c1", acc=0.95), run("c2", acc=0.97), run("c3", acc=0.96)],
    )
    assert result.baseline is not None and result.candidate is not None
    assert (result.baseline.n, result.candidate.n) == (2, 3)
    assert result.delta == pytest.approx(0.05)
    assert result.candidate.std == pytest.approx(0.01)
    assert not result.evidence.single_seed


def test_baseline_is_newest_commit_with_finished_runs() -> None:
    runs = [
        run("old", commit="c1", created="2026-01-01", acc=0.80),
        run("new", commit="c2", created="2026-01-03", acc=0.90),
        run("new2", commit="c2", created="2026-01-02", acc=0.92),
        run("broken", commit="c3", created="2026-01-04", state=RunState.FAILED),
        run("other", branch="exp/a", commit="x", created="2026-01-05", acc=0.99),
    ]
    baseline = select_baseline("main", runs)
    assert baseline is not None
    assert baseline.commit == "c2"
    assert {r.id for r in baseline.runs} == {"new", "new2"}


def test_compare_uses_each_branch_newest_commit_and_names_a_winner() -> None:
    runs = [
        run("base", acc=0.90, loss=0.5),
        run("a-old", branch="exp/a", commit="a1", created="2026-01-01", acc=0.99),
        run("a-new", branch="exp/a", commit="a2", created="2026-01-02", acc=0.93, loss=0.4),
        run("b", branch="exp/b", commit="b1", acc=0.96, loss=0.3),
        run("c", branch="exp/c", commit="c9", acc=0.80, loss=0.9),
        run("d", branch="exp/d", commit="d1", state=RunState.CRASHED),
    ]
    result = compare(runs, [ACC, LOSS], baseline_branch="main")
    assert [b.branch for b in result.branches] == ["exp/a", "exp/b", "exp/c", "exp/d"]
    verdicts = {b.branch: b.primary_verdict for b in result.branches}
    assert verdicts == {"exp/a": "better", "exp/b": "better", "exp/c": "worse", "exp/d": "failed"}
    a = result.branches[0]
    assert a.commit == "a2" and [r.id for r in a.runs] == ["a-new"]
    assert result.winner is not None and result.winner.branch == "exp/b"
    assert result.branches[3].states == {"crashed": 1}


def test_no_winner_when_nothing_is_better() -> None:
    runs = [run("base", acc=0.9), run("a", branch="exp/a", acc=0.905)]
    assert compare(runs, [ACC], baseline_branch="main").winner is None


def test_compare_named_branches_keeps_order_and_reports_unknown_as_empty() -> None:
    runs = [run("base", acc=0.9), run("a", branch="exp/a", acc=0.95)]
    result = compare(runs, [ACC], baseline_branch="main", branches=["exp/zzz", "exp/a"])
    assert [b.branch for b in result.branches] == ["exp/zzz", "exp/a"]
    assert result.branches[0].runs == () and result.branches[0].primary_verdict == "missing"


def test_relative_delta_undefined_at_zero_baseline() -> None:
    result = compare_metric(LOSS, [run("b", loss=0.0)], [run("c", loss=0.1)])
    assert result.rel_delta is None
    assert math.isclose(result.delta or 0, 0.1)
