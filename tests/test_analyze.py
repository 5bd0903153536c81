"""harness analyze on real local runs: one report per branch, validated events, bookkeeping."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.analysis import MAX_MARKDOWN, metric_chart, resample
from harness.diagnose import diagnose, highlights
from harness.render.document import Document
from harness.render.markdown import render
from harness.runs import Run, RunState

from .helpers import BIN, Ran, fresh_store, invoke, offline_env


def harness(repo: Path, home: Path, *args: str) -> Ran:
    return invoke("harness", *args, cwd=repo, env=offline_env(HARNESS_HOME=str(home)))


def test_one_report_per_branch_with_verdict_chart_diagnosis_and_changes(
    ended_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, home = ended_runs
    out = tmp_path / "out"
    done = harness(repo, home, "analyze", "--out", str(out))
    assert done.returncode == 0, done.stderr
    index = json.loads((out / "index.json").read_text())
    verdicts = {r["branch"]: r["verdict"] for r in index["reports"]}
    assert verdicts == {
        "exp/fails": "failed",
        "exp/good": "better",
        "exp/killed": "failed",
        "exp/nan": "failed",
        "main": "baseline",  # the baseline's own report: its runs, never compared with itself
    }
    good = (out / "exp%2Fgood.md").read_text()
    assert good.startswith("<!-- harness:report branch=exp%2Fgood -->\n### ✅ exp/good beats main")
    assert (
        "```mermaid\nxychart-beta" in good
        and "line 1 = `main (baseline)`, line 2 = `exp/good`" in good
    )
    assert "#### Changes since" in good and "update train.py" in good and "train.py | 2 +-" in good
    assert "launch-job --branch exp/good --seeds 1" in good
    fails = json.loads((out / "exp%2Ffails.json").read_text())
    [diagnosis] = fails["diagnoses"]
    assert diagnosis["category"] == "exception"
    assert diagnosis["summary"] == "raised ValueError: shapes do not match"
    assert diagnosis["excerpt"][0] == "Traceback (most recent call last):"
    killed = json.loads((out / "exp%2Fkilled.json").read_text())
    assert killed["diagnoses"][0]["category"] == "killed"
    nan = json.loads((out / "exp%2Fnan.json").read_text())
    assert nan["diagnoses"][0]["category"] == "nan"
    assert "NonFiniteLoss" in nan["diagnoses"][0]["summary"]
    assert "#### 💥 run " in (out / "exp%2Fnan.md").read_text()
    [failure] = fails["failures"]
    assert failure["exception"] == "ValueError: shapes do not match"
    main = (out / "main.md").read_text()
    assert "### 📏 main is the baseline: val/accuracy" in main and "evidence" not in main


def test_reported_runs_are_skipped_after_mark_reported(
    ended_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, home = ended_runs[0], fresh_store(ended_runs[1], tmp_path / "store")
    out = tmp_path / "out"
    assert harness(repo, home, "analyze", "--branch", "exp/good", "--out", str(out)).returncode == 0
    index = json.loads((out / "index.json").read_text())
    assert [r["branch"] for r in index["reports"]] == ["exp/good"]
    marked = harness(repo, home, "mark-reported", str(out))
    assert marked.returncode == 0 and marked.stdout == "marked 1 run(s) reported\n"
    again = harness(repo, home, "analyze", "--branch", "exp/good", "--out", str(out))
    assert again.returncode == 0
    assert again.stdout == "nothing new to report: every ended run has been reported\n"
    assert json.loads((out / "index.json").read_text())["reports"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"action": "other", "client_payload": {"project_name": "test"}}, "type is 'other'"),
        (
            {"client_payload": {"project_name": "te$(reboot)"}},
            "client_payload.project_name is not valid",
        ),
        (
            {"client_payload": {"project_name": "test", "branch": "../../etc"}},
            "invalid branch name",
        ),
        (
            {"client_payload": {"project_name": "test", "run_id": "a;rm -rf /"}},
            "client_payload.run_id is not valid",
        ),
        ({"client_payload": {"project_name": "test", "extra": 1}}, "unknown key 'extra'"),
        ({"client_payload": {"entity_name": "e"}}, "client_payload.project_name is missing"),
        ({"client_payload": {"project_name": "x" * 100_000}}, "larger than 65536 bytes"),
        (
            {"client_payload": {"project_name": "${project_name}"}},
            "is not valid: '${project_name}'",
        ),
        ({"client_payload": {"project_name": "test", "state": "exploded"}}, "state must be one of"),
        (
            {"client_payload": {"project_name": "other-project"}},
            "is not this repository's W&B project",
        ),
        ({"client_payload": {"project_name": "test", "run_id": "nosuchrun"}}, "no run 'nosuchrun'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_hostile_events_are_refused_before_anything_is_written(
    ended_runs: tuple[Path, Path], tmp_path: Path, payload: object, message: str
) -> None:
    repo, home = ended_runs
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    out = tmp_path / "reports"
    done = harness(repo, home, "analyze", "--event-file", str(event), "--out", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert not out.exists()


def test_the_webhook_template_is_a_valid_event_once_filled(
    ended_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, home = ended_runs
    template = (Path(__file__).parent.parent / "misc" / "wandb_webhook_payload.json").read_text()
    filled = template.replace("${entity_name}", "team").replace("${project_name}", "test")
    filled = filled.replace("${event_type}", "RUN_STATE").replace("${event_author}", "alice")
    body = json.loads(filled)
    event = tmp_path / "event.json"  # as GitHub writes it: the type becomes "action"
    event.write_text(
        json.dumps({"action": body["event_type"], "client_payload": body["client_payload"]})
    )
    done = harness(
        repo,
        home,
        "analyze",
        "--event-file",
        str(event),
        "--out",
        str(tmp_path / "o"),
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema_version"] == 1


def test_huge_traceback_still_fits_a_github_comment() -> None:
    frames = [f'  File "x{i}.py", line {i}, in f\n    {"y" * 400}' for i in range(2000)]
    log = [
        "Traceback (most recent call last):",
        *"\n".join(frames).splitlines(),
        "RecursionError: deep",
    ]
    run = Run(id="r1", state=RunState.FAILED, branch="exp/x", exit_code=1)
    diagnosis = diagnose(run, log)
    assert diagnosis is not None and diagnosis.category == "exception"
    assert len(diagnosis.excerpt) <= 40 and all(len(line) <= 301 for line in diagnosis.excerpt)
    assert diagnosis.excerpt[-1] == "RecursionError: deep"


@pytest.mark.parametrize(
    ("reason", "log", "category"),
    [
        ("timed out after 10m", [], "timeout"),
        (
            "exit code 1: RuntimeError: CUDA out of memory",
            ["RuntimeError: CUDA out of memory."],
            "oom",
        ),
        (None, ["ModuleNotFoundError: No module named 'tourch'"], "import_error"),
        (None, ["unknown hyperparameter 'lrr'; known: lr"], "config_error"),
        ("killed by signal SIGTERM", [], "preempted"),
        ("killed by signal SIGKILL", [], "killed"),
        ("interrupted (Ctrl-C)", [], "killed"),
        (None, ["all good", "then nothing"], "unknown"),
    ],
)
def test_failure_rules(reason: str | None, log: list[str], category: str) -> None:
    run = Run(id="r", state=RunState.FAILED, reason=reason, exit_code=1)
    diagnosis = diagnose(run, log)
    assert diagnosis is not None and diagnosis.category == category


def test_finished_runs_have_no_diagnosis_but_highlights() -> None:
    run = Run(id="r", state=RunState.FINISHED, summary={"diagnostics/nonfinite_loss_steps": 3})
    assert diagnose(run, ["Traceback (most recent call last):"]) is None
    norms = [(i, 1.0) for i in range(10)] + [(10, 50.0)]
    found = highlights(run, norms)
    assert [h.kind for h in found] == ["nonfinite", "grad_spike"]
    assert "up to 50 at step 10" in found[1].text


def test_curves_are_resampled_onto_one_grid() -> None:
    assert resample([[(0, 0.0), (10, 1.0)], [(0, 1.0), (10, 1.0)]], [0, 5, 10, 20]) == [
        0.5,
        0.75,
        1.0,
        1.0,
    ]
    made = metric_chart(
        'val/acc"uracy', [("main", [[(0, 0.1), (100, 0.5)]]), ("exp/a", [[(0, 0.2), (50, 0.9)]])]
    )
    assert made is not None
    chart = render(Document((made,))).splitlines()
    assert chart[2] == '    title "val/accuracy"'  # quotes cannot break the chart
    assert chart[3] == '    x-axis "step" [0, 50, 100]'  # few points: the logged steps
    assert chart[5:7] == ["    line [0.1, 0.3, 0.5]", "    line [0.2, 0.9, 0.9]"]
    assert chart[-1].startswith("_line 1 = `main`, line 2 = `exp/a`")
    long = metric_chart("m", [("a", [[(s, float(s)) for s in range(1000)]])])
    assert long is not None and len(long.x) == 40
    nan = metric_chart("m", [("a", [[(0, float("nan")), (1, 0.5), (2, float("inf"))]])])
    assert nan is not None and nan.series == (("a", (0.5,)),)  # Mermaid breaks on nan
    assert MAX_MARKDOWN < 65_536


@pytest.mark.parametrize(
    ("event_name", "branches"),
    [
        ("repository_dispatch", ["exp/killed"]),
        # A scheduled poll's event is no W&B event: every pending run is reported.
        ("schedule", ["exp/fails", "exp/good", "exp/killed", "exp/nan", "main"]),
    ],
)
def test_github_event_path_is_read_for_a_repository_dispatch(
    ended_runs: tuple[Path, Path], tmp_path: Path, event_name: str, branches: list[str]
) -> None:
    repo, home = ended_runs
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "wandb_run_finished",
                "client_payload": {"project_name": "test", "branch": "exp/killed"},
            }
        )
    )
    done = subprocess.run(
        [str(BIN / "harness"), "analyze", "--out", str(tmp_path / "o"), "--format", "json"],
        cwd=repo,
        env=offline_env(
            HARNESS_HOME=str(home),
            GITHUB_EVENT_PATH=str(event),
            GITHUB_EVENT_NAME=event_name,
            GITHUB_OUTPUT=str(tmp_path / "outputs"),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = [r["branch"] for r in json.loads(done.stdout)["reports"]]
    assert found == branches
    outputs = dict(line.split("=", 1) for line in (tmp_path / "outputs").read_text().splitlines())
    assert outputs["reports-dir"] == str(tmp_path / "o") and outputs["count"] == str(len(found))
    assert set(json.loads(outputs["verdicts"])) == set(found)
