"""Trust under hostile input and faults (issue 15): each test is what a user does and what
they see: the exit code, the one error line, and the store afterwards. Numbers refer to
the issue's list."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from harness.liveness import stat_fields
from harness.stores.local import LocalStore

from .helpers import (
    METRICS_YAML,
    acc,
    commit_file,
    git,
    invoke,
    make_repo,
    offline_env,
    run_cli,
    start_cli,
    write_run,
)

# Nine levels of nine aliases: 362 bytes that stand for 9**9 (387 million) strings.
ALIAS_BOMB = (
    "a: &a ["
    + ",".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    """A repository with metrics, and a store with main's runs."""
    root = make_repo(tmp_path / "repo")
    commit_file(root, "harness.yaml", METRICS_YAML)
    home = tmp_path / "store"
    for seed in range(3):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80 + seed / 100, 0.5))
    return root, home


def one_error_line(text: str, program: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), text[:2000]
    assert len(lines[0]) < 400
    return lines[0]


# -- 1. YAML aliases ------------------------------------------------------------------------
def test_1_an_alias_bomb_in_harness_yaml_is_refused_at_once(store: tuple[Path, Path]) -> None:
    root, home = store
    (root / "harness.yaml").write_text(ALIAS_BOMB + "launch: {seeds: *i}\n")
    started = time.monotonic()
    done = invoke("check-results", "runs", cwd=root, env=offline_env(HARNESS_HOME=str(home)))
    assert done.returncode == 2
    line = one_error_line(done.stderr, "check-results")
    assert "refused: more than 50000 values once its aliases are expanded" in line
    assert time.monotonic() - started < 30  # not most of a minute of expansion


def test_1_a_pushed_branch_s_alias_bomb_is_refused_by_launch_job(
    store: tuple[Path, Path],
) -> None:
    root, home = store
    commit_file(root, "train.py", "print('hi')\n")
    commit_file(
        root, "harness.yaml", ALIAS_BOMB + "launch: {entry_point: train.py}\n", branch="exp/bomb"
    )
    git(root, "checkout", "--quiet", "main")  # the checkout's own harness.yaml is fine
    done = run_cli("launch-job", root, home, "--branch", "exp/bomb")
    assert done.returncode == 2
    assert "harness.yaml at exp/bomb@" in one_error_line(done.stderr, "launch-job")
    assert len(LocalStore(home).runs()) == 3  # main's runs only: nothing was started


# -- 2. supervision -------------------------------------------------------------------------
LEAVES_A_SLEEPER = """\
import os, subprocess, sys
from pathlib import Path
kept = subprocess.Popen(["sleep", "45"])
alone = subprocess.Popen(["setsid", "sleep", "46"])  # its own session: not in the group
Path(os.environ["HARNESS_RUN_DIR"], "pids").write_text(f"{kept.pid} {alone.pid}")
sys.stdout.write("step 1\\r" * 200_000 + "done\\n")  # progress bars: 1.4 MB, one line
"""


def alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] != "Z"


@pytest.mark.slow
def test_2_a_run_ends_when_its_script_does_whatever_it_left_behind(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", "launch: {entry_point: train.py}\n")
    commit_file(repo, "train.py", LEAVES_A_SLEEPER)
    home = tmp_path / "store"
    started = time.monotonic()
    done = run_cli("launch-job", repo, home, "--branch", "main", "--timeout", "40s")
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert took < 30  # not the 45 s of the sleep it left
    [run] = LocalStore(home).runs()
    assert run.state.value == "finished"
    manifest = json.loads((home / "runs" / run.id / "harness.json").read_text())
    assert manifest["left_processes"] == 2
    assert "left 2 process(es) running" in done.stdout
    pids = [int(p) for p in (home / "runs" / run.id / "pids").read_text().split()]
    assert not any(alive(pid) for pid in pids)
    log = (home / "runs" / run.id / "output.log").read_bytes()
    assert log.count(b"step 1\r") == 200_000  # every byte kept in the log
    assert b"[main s0" not in log and "done" in done.stdout


@pytest.mark.slow
def test_2_sigterm_to_launch_job_records_the_run_as_crashed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", "launch: {entry_point: train.py}\n")
    commit_file(
        repo,
        "train.py",
        "import os, time\nfrom pathlib import Path\n"
        "Path(os.environ['HARNESS_RUN_DIR'], 'pid').write_text(str(os.getpid()))\n"
        "time.sleep(60)\n",
    )
    home = tmp_path / "store"
    launcher = start_cli("launch-job", repo, home, "--branch", "main")
    try:
        deadline = time.monotonic() + 60
        pid_files: list[Path] = []
        while not pid_files and time.monotonic() < deadline:
            time.sleep(0.1)
            pid_files = list(home.glob("runs/*/pid"))
        assert pid_files, "the run never started"
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == 143
    assert "launch-job: terminated; the run is recorded as crashed" in err
    [run] = LocalStore(home).runs()
    assert (run.state.value, run.reason) == ("crashed", "terminated (SIGTERM)")
    assert not alive(int(pid_files[0].read_text()))


# -- 3. long branch names -------------------------------------------------------------------
def test_3_branches_whose_names_make_long_file_names_get_reports(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    root, home = store
    deep = "/".join(["exp", *(f"p{i}" for i in range(99))])  # 100 path components
    accented = "exp/" + "é" * 60
    for i, branch in enumerate((deep, accented)):
        write_run(home, f"long{i}", branch=branch, commit="c" * 40, summary=acc(0.9, 0.4))
    out = tmp_path / "reports"
    done = invoke("harness", "analyze", "--out", str(out), cwd=root,
                  env=offline_env(HARNESS_HOME=str(home)))  # fmt: skip
    assert done.returncode == 0, done.stderr
    index = json.loads((out / "index.json").read_text())
    names = {entry["branch"]: entry["markdown"] for entry in index["reports"]}
    assert {deep, accented} <= set(names)
    for branch in (deep, accented):
        assert len(names[branch].encode()) <= 255
        assert (out / names[branch]).read_text().startswith("<!-- harness:report")
    assert names[deep] != names[accented]


# -- 4. overflow ------------------------------------------------------------------------------
def test_4_values_too_large_to_compare_are_left_out_with_a_warning(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    root, home = store
    for seed in range(2):
        write_run(home, f"huge{seed}", seed=seed + 3, summary={"val/loss": 1.7e308 - seed * 1e300,
                  **acc(0.81)})  # fmt: skip
        write_run(home, f"cand{seed}", branch="exp/x", commit="c" * 40, seed=seed,
                  summary={"val/loss": 1.7e308, **acc(0.9 + seed / 100)})  # fmt: skip
    env = offline_env(HARNESS_HOME=str(home))
    for args in (["compare"], ["leaderboard"], ["summary", "--branch", "exp/x"]):
        done = invoke("check-results", *args, "--format", "json", cwd=root, env=env)
        assert done.returncode == 0, done.stderr
        warnings = json.loads(done.stdout)["warnings"]
        assert any("val/loss is NaN, infinite or too large to compare" in w for w in warnings)
    analyzed = invoke("harness", "analyze", "--out", str(tmp_path / "o"), cwd=root, env=env)
    assert analyzed.returncode == 0, analyzed.stderr


# -- 5. deep nesting, bad bytes, bad paths -----------------------------------------------------
DEEP_JSON = "[" * 200_000 + "]" * 200_000


def test_5_a_deeply_nested_manifest_or_curves_file_is_a_warning(
    store: tuple[Path, Path],
) -> None:
    root, home = store
    write_run(home, "deep0", branch="exp/deep", commit="c" * 40, summary=acc(0.9))
    (home / "runs" / "deep0" / "curves.json").write_text(DEEP_JSON)
    (home / "runs" / "base0" / "harness.json").write_text(DEEP_JSON)
    env = offline_env(HARNESS_HOME=str(home))
    done = invoke("check-results", "runs", "--format", "json", cwd=root, env=env)
    assert done.returncode == 0, done.stderr
    assert any(
        "base0" in w and "nested too deeply" in w for w in json.loads(done.stdout)["warnings"]
    )
    summary = invoke("check-results", "summary", "--branch", "exp/deep", cwd=root, env=env)
    assert summary.returncode in (0, 11, 12), summary.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("launch: " + "[" * 50_000 + "]" * 50_000 + "\n", "refused: nested deeper than"),
        (b"metrics: [\xff\xfe]\n", "not UTF-8 text"),
        ("launch: {seeds: 2001-02-30}\n", "refused: a value cannot be read"),
        ("launch: {seeds: " + "1" * 5000 + "}\n", "refused: a value cannot be read"),
        ("launch: {timeout: " + "9" * 400 + "}\n", "launch.timeout"),
    ],
    ids=["deep", "invalid-utf8", "bad-date", "5000-digits", "huge-timeout"],
)
def test_5_a_bad_harness_yaml_is_one_line(
    store: tuple[Path, Path], content: str | bytes, message: str
) -> None:
    root, home = store
    path = root / "harness.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = invoke("check-results", "runs", cwd=root, env=offline_env(HARNESS_HOME=str(home)))
    assert done.returncode == 2
    assert message in one_error_line(done.stderr, "check-results")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (DEEP_JSON, "not valid JSON: nested too deeply"),
        (
            '{"client_payload": {"project_name": "p", "run_id": ' + "9" * 5000 + "}}",
            "not valid JSON",
        ),
    ],
    ids=["deep", "5000-digit-run-id"],
)
def test_5_a_bad_event_file_is_exit_2(
    store: tuple[Path, Path], tmp_path: Path, event: str, message: str
) -> None:
    root, home = store
    path = tmp_path / "event.json"
    path.write_text(event)
    done = invoke("harness", "analyze", "--event-file", str(path), "--out", str(tmp_path / "o"),
                  cwd=root, env=offline_env(HARNESS_HOME=str(home)))  # fmt: skip
    assert done.returncode == 2
    assert message in one_error_line(done.stderr, "harness")
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_5_unusable_paths_are_one_line(store: tuple[Path, Path], tmp_path: Path) -> None:
    root, home = store
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    env = offline_env(HARNESS_HOME=str(home))
    out = invoke("harness", "analyze", "--out", str(a_file / "reports"), cwd=root, env=env)
    assert out.returncode == 2
    assert str(a_file) in one_error_line(out.stderr, "harness")
    commit_file(root, "train.py", "print('hi')\n")
    commit_file(root, "harness.yaml", METRICS_YAML + "launch: {entry_point: train.py}\n")
    launched = invoke("launch-job", "--branch", "main", "--home", str(a_file / "store"),
                      cwd=root, env=offline_env())  # fmt: skip
    assert launched.returncode == 2
    assert str(a_file) in one_error_line(launched.stderr, "launch-job")
    (home / "runs" / "base1" / "output.log").mkdir()
    log = invoke("check-results", "log", "base1", cwd=root, env=env)
    assert log.returncode == 2
    assert "Is a directory" in one_error_line(log.stderr, "check-results")


# -- 6. NaN in curves, warnings in the right reports --------------------------------------------
def test_6_nan_never_reaches_a_chart_and_warnings_stay_with_their_branch(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    root, home = store
    for name in ("base0", "base1", "base2"):
        (home / "runs" / name / "curves.json").write_text(
            '{"val/accuracy": [[1, 0.5], [2, 0.7], [3, 0.8]]}'
        )
    for seed in range(2):
        run = write_run(home, f"a{seed}", branch="exp/a", commit="c" * 40, seed=seed,
                        summary=acc(0.9 + seed / 100))  # fmt: skip
        (run / "curves.json").write_text('{"val/accuracy": [[1, 0.6], [2, NaN], [3, 0.9]]}')
        write_run(home, f"b{seed}", branch="exp/b", commit="d" * 40, seed=seed,
                  summary=acc(0.85 + seed / 100))  # fmt: skip
    broken = home / "runs" / "a9"
    broken.mkdir()
    (broken / "harness.json").write_text("{")  # exp/a's? nobody knows: a run of no branch
    write_run(home, "a2", branch="exp/a", commit="c" * 40, seed=2, summary=acc(0.92))
    (home / "runs" / "a2" / "curves.json").write_text("[" * 100_000)  # unreadable
    out = tmp_path / "reports"
    done = invoke("harness", "analyze", "--out", str(out), cwd=root,
                  env=offline_env(HARNESS_HOME=str(home)))  # fmt: skip
    assert done.returncode == 0, done.stderr
    a = (out / "exp%2Fa.md").read_text()
    b = (out / "exp%2Fb.md").read_text()
    assert "```mermaid" in a and "nan" not in a.split("```mermaid", 1)[1].split("```", 1)[0]
    assert a.count("run a2: curves.json is unreadable") == 1
    assert "run a2:" not in b and "run a9:" not in b and "run a9:" not in a


def test_6_a_store_warning_is_shown_once(store: tuple[Path, Path]) -> None:
    root, home = store
    broken = home / "runs" / "zz9"
    broken.mkdir()
    (broken / "harness.json").write_text("{")
    env = offline_env(HARNESS_HOME=str(home))
    done = invoke("check-results", "runs", "--format", "json", cwd=root, env=env)
    warnings = json.loads(done.stdout)["warnings"]
    assert len(warnings) == len(set(warnings)) == 1


def test_3_a_hashed_name_is_never_another_branch_s_name() -> None:
    from urllib.parse import unquote

    from harness.pipelines import branch_file_stem

    long = "exp/" + "x" * 300
    stem = branch_file_stem(long)
    lookalike = unquote(stem)  # a valid branch whose quoted name would be the hashed one
    assert branch_file_stem(lookalike) != stem and "%%" in stem
    assert len(stem.encode()) <= 200


def test_6_a_w_and_b_store_warning_stays_with_its_run() -> None:
    from harness.pipelines import about_runs
    from harness.runs import Run, RunState

    warnings = [
        "W&B: cannot read the history of run abc: timeout",
        "run zzz: harness.json is unreadable",
        "W&B project p has 3000 harness runs; only the newest 2000 were read",
    ]
    mine = [Run(id="abc", state=RunState.FINISHED)]
    assert about_runs(warnings, mine) == [warnings[0], warnings[2]]


def test_gc_needs_a_unit_for_its_age(store: tuple[Path, Path]) -> None:
    root, home = store
    done = invoke("harness", "gc", "--runs-older-than", "30", cwd=root,
                  env=offline_env(HARNESS_HOME=str(home)))  # fmt: skip
    assert done.returncode == 2
    assert "give a unit, e.g. 30d" in one_error_line(done.stderr, "harness")
    assert len(LocalStore(home).runs()) == 3
