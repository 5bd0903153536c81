"""Failures read like a good bug report: grouped across seeds, library frames folded,
paths relative to the repository, the failing line shown from the run's commit."""

from __future__ import annotations

from harness.diagnose import diagnose
from harness.failures import (
    group_failures,
    locate,
    normalize_message,
    parse_traceback,
    scrub_paths,
    source_lines,
)
from harness.runs import Run, RunState

from .helpers import torch_log

TREE = frozenset({"experiments/digits/train.py", "harness/tracking/run.py", "README.md"})
SOURCE = "\n".join(f"line {n}" for n in range(1, 61)) + "\n"


def failed(run_id: str, seed: int) -> Run:
    return Run(id=run_id, state=RunState.FAILED, branch="exp/b", seed=seed, exit_code=1)


def test_a_traceback_is_parsed_and_located_in_the_tree() -> None:
    tb = parse_traceback(torch_log("/tmp/harness-wt-1/wt", "64x784"))
    assert tb is not None and len(tb.frames) == 5
    assert tb.exception_type == "RuntimeError"
    assert tb.frames[1].code == "out = model(x)"  # the ^^^^ marker line is not code
    located = locate(tb, TREE)
    assert [f.repo_path for f in located.frames] == [
        "experiments/digits/train.py",
        "experiments/digits/train.py",
        None,
        None,
        None,
    ]
    assert located.root == "/tmp/harness-wt-1/wt/"
    assert located.failing_frame is not None and located.failing_frame.line == 30
    # a file that merely shares a name is not the repository's: site-packages never is
    assert locate(tb, frozenset({"linear.py"})).failing_frame is None


def test_three_seeds_failing_the_same_way_are_one_entry_with_one_excerpt() -> None:
    found = []
    for seed, (where, size) in enumerate(
        [("/tmp/wt-a", "64x784"), ("/tmp/wt-b", "32x784"), ("/agent/clone", "64x784")]
    ):
        log = torch_log(where, size)
        run = failed(f"r{seed}", seed)
        diagnosis = diagnose(run, log)
        assert diagnosis is not None
        tb = parse_traceback(log)
        assert tb is not None
        found.append((run, diagnosis, locate(tb, TREE)))
    reads: list[tuple[str, int]] = []

    def source(path: str, line: int):  # type: ignore[no-untyped-def]
        reads.append((path, line))
        return source_lines(SOURCE, path, line)

    [failure] = group_failures(found, source=source)
    assert [r.id for r in failure.runs] == ["r0", "r1", "r2"] and failure.seeds == [0, 1, 2]
    assert reads == [("experiments/digits/train.py", 30)]
    assert failure.source is not None and failure.source.shown() == [
        "  28 | line 28",
        "  29 | line 29",
        "→ 30 | line 30",
        "  31 | line 31",
        "  32 | line 32",
    ]
    excerpt = "\n".join(failure.excerpt)
    assert excerpt.count("Traceback (most recent call last):") == 1
    assert '  File "experiments/digits/train.py", line 30, in step' in excerpt
    assert "  … 3 library frame(s)" in excerpt and "module.py" not in excerpt
    assert "/tmp/" not in excerpt and "/home/" not in excerpt and "/agent/" not in excerpt
    assert failure.traceback is not None and "/tmp/" not in str(failure.traceback.exception)
    assert excerpt.endswith("in experiments/digits/train.py")


def test_different_failures_stay_apart() -> None:
    one = torch_log("/w", "64x784")
    other = [*one[:-1], "ValueError: expected 3 channels"]
    found = []
    for i, log in enumerate([one, other]):
        run = failed(f"r{i}", i)
        diagnosis = diagnose(run, log)
        tb = parse_traceback(log)
        assert diagnosis is not None and tb is not None
        found.append((run, diagnosis, locate(tb, TREE)))
    assert len(group_failures(found)) == 2


def test_messages_and_paths_are_normalised() -> None:
    assert normalize_message("shapes (64x784) at 0x7fab12, lr=1e-3") == "shapes (N) at N, lr=N"
    assert normalize_message("E1Error in conv2d") == "E1Error in conv2d"  # names keep digits
    assert scrub_paths(
        'File "/usr/lib/python3.11/runpy.py" and /home/bob/x and /opt/v/site-packages/t.py'
    ) == ('File "<python>/runpy.py" and ~/x and <site-packages>/t.py')


def test_a_log_without_a_traceback_keeps_its_tail() -> None:
    run = failed("r0", 0)
    log = ["loading", "Killed"]
    diagnosis = diagnose(run, log)
    assert diagnosis is not None and parse_traceback(log) is None
    [failure] = group_failures([(run, diagnosis, None)])
    assert failure.excerpt == ("loading", "Killed") and failure.traceback is None


def test_without_the_commit_s_tree_frames_are_relative_to_the_folder_they_share() -> None:
    log = torch_log("/tmp/wt-x", "64x784")
    log.insert(2, '  File "/tmp/wt-x/harness/tracking/run.py", line 9, in wrapper')
    tb = parse_traceback(log)
    assert tb is not None
    located = locate(tb, frozenset())  # this checkout lacks the run's commit
    assert [f.repo_path for f in located.frames][:3] == [
        "harness/tracking/run.py",
        "experiments/digits/train.py",
        "experiments/digits/train.py",
    ]
    assert located.root == "/tmp/wt-x/" and located.frames[3].repo_path is None
