"""check-results as a user runs it: three formats, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import harness_cli, results_cli
from harness.manifest import MANIFEST_FILE

from .helpers import METRICS_YAML, acc, write_run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with harness.yaml and a store holding a baseline and three branches."""
    (tmp_path / "harness.yaml").write_text(METRICS_YAML)
    home = tmp_path / ".harness"
    write_run(home, "base1", commit="b" * 40, summary=acc(0.90, 0.50))
    write_run(home, "good1", branch="exp/good", commit="c" * 40, summary=acc(0.95, 0.40))
    write_run(home, "bad1", branch="exp/bad", commit="d" * 40, summary=acc(0.80, 0.70))
    write_run(
        home,
        "crash1",
        branch="exp/crash",
        commit="e" * 40,
        state="crashed",
        exit_code=None,
        reason="killed by signal SIGKILL",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(results_cli, list(args), catch_exceptions=False)


def test_compare_table(project: Path) -> None:
    result = invoke("compare")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Baseline: main @ bbbbbbb (1 run(s))." in out
    for line in ("exp/good", "exp/bad", "exp/crash", "main (baseline)"):
        assert line in out
    assert "1 crashed" in out and "failed" in out
    assert "Winner: exp/good beats main on val/accuracy: 0.95 vs 0.9, +0.05 (+5.6%)" in out


def test_compare_json_is_the_documented_contract(project: Path) -> None:
    result = invoke("compare", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["schema_version"] == 2 and data["kind"] == "compare"
    assert data["baseline"]["branch"] == "main" and data["baseline"]["commit"] == "b" * 40
    assert data["baseline"]["n"] == 1
    assert data["winner"] == "exp/good"
    branches = {b["branch"]: b for b in data["branches"]}
    assert set(branches) == {"exp/good", "exp/bad", "exp/crash"}
    good = branches["exp/good"]
    assert good["primary_verdict"] == "better" and good["states"] == {"finished": 1}
    [accuracy, loss] = good["metrics"]
    assert accuracy["name"] == "val/accuracy" and accuracy["primary"] is True
    assert accuracy["value"] == {"mean": 0.95, "std": None, "n": 1}
    assert accuracy["baseline"]["mean"] == 0.90
    assert accuracy["delta"] == pytest.approx(0.05)
    assert accuracy["rel_delta"] == pytest.approx(0.05 / 0.90)
    assert accuracy["verdict"] == "better"
    assert accuracy["evidence"]["single_seed"] is True
    assert loss["verdict"] == "better"  # lower loss is better
    assert branches["exp/bad"]["primary_verdict"] == "worse"
    crash = branches["exp/crash"]
    assert crash["primary_verdict"] == "failed" and crash["states"] == {"crashed": 1}
    assert crash["runs"][0]["reason"] == "killed by signal SIGKILL"
    assert crash["metrics"][0]["value"] is None


def test_compare_markdown(project: Path) -> None:
    result = invoke("compare", "--format", "md", "--branches", "exp/good,exp/crash")
    assert result.exit_code == 0
    md = result.stdout
    assert md.startswith("<!-- harness:compare -->\n### 🏆 Winner: exp/good beats main")
    assert "| `exp/good` | `ccccccc` | 1 finished | ✅ better | 0.95 | +0.05 (+5.6%) |" in md
    assert "| `exp/crash` | `eeeeeee` | 1 crashed | 💥 failed |" in md
    assert "exp/bad" not in md


def test_metric_option_changes_what_is_shown_first(project: Path) -> None:
    data = json.loads(invoke("compare", "--metric", "val/loss", "--format", "json").stdout)
    assert [m["name"] for m in data["metrics"]] == ["val/loss", "val/accuracy"]
    assert data["primary_metric"] == "val/accuracy"
    bad = invoke("compare", "--metric", "val/f1")
    assert bad.exit_code == 2
    assert (
        "--metric 'val/f1' is not declared in harness.yaml (val/accuracy, val/loss)" in bad.stderr
    )


def test_summary_in_three_formats(project: Path) -> None:
    table = invoke("summary", "--branch", "exp/good")
    assert table.exit_code == 0
    assert "exp/good beats main on val/accuracy" in table.stdout
    assert "good1" in table.stdout
    md = invoke("summary", "--branch", "exp/good", "--format", "md").stdout
    assert md.startswith("<!-- harness:report branch=exp%2Fgood -->\n### ✅ exp/good beats main")
    assert "| `good1` | 0 | finished | 0 |  |" in md
    data = json.loads(invoke("summary", "-b", "exp/good", "--format", "json").stdout)
    assert data["kind"] == "summary" and [b["branch"] for b in data["branches"]] == ["exp/good"]


def test_summary_of_a_failed_branch_exits_1(project: Path) -> None:
    result = invoke("summary", "--branch", "exp/crash")
    assert result.exit_code == 1
    assert "exp/crash: every run at eeeeeee failed or crashed" in result.stdout
    assert "killed by signal SIGKILL" in result.stdout


def test_summary_of_the_baseline_itself(project: Path) -> None:
    result = invoke("summary", "--branch", "main")
    assert result.exit_code == 0
    assert "main is the baseline: val/accuracy 0.9" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["summary", "--branch", "exp/none"],
            "no runs of branch 'exp/none' in the store (branches with runs:",
        ),
        (["summary", "--branch", "a..b"], "invalid branch name 'a..b'"),
        (["compare", "--branches", "ok,x y"], "invalid branch name 'x y'"),
        (["compare", "--baseline", "bad~1"], "invalid branch name 'bad~1'"),
        (["compare", "--backend", "wandb"], "W&B: no API key (set WANDB_API_KEY"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project: Path, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("check-results: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_malformed_harness_yaml(project: Path) -> None:
    (project / "harness.yaml").write_text("metrics:\n  - {name: acc, goal: sideways}\n")
    result = invoke("compare")
    assert result.exit_code == 2
    assert f"{project / 'harness.yaml'}: metrics[0].goal: expected 'maximize'" in result.stderr


def test_no_declared_metrics_is_a_config_error(project: Path) -> None:
    (project / "harness.yaml").write_text("baseline_branch: main\n")
    result = invoke("compare")
    assert result.exit_code == 2
    assert "metrics: no metrics are declared" in result.stderr


def test_corrupt_manifest_is_a_warning_and_the_rest_still_compares(project: Path) -> None:
    broken = project / ".harness" / "runs" / "broken1"
    broken.mkdir()
    (broken / MANIFEST_FILE).write_text('{"branch": "exp/x", "sta')
    result = invoke("compare", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["winner"] == "exp/good"
    [warning] = data["warnings"]
    assert warning.startswith("run broken1: harness.json is unreadable: not valid JSON (line 1")
    assert warning.endswith("and no W&B run; shown as unknown")
    table = invoke("compare")
    assert "warning: run broken1" in table.stdout


def test_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "harness.yaml").write_text(METRICS_YAML)
    monkeypatch.chdir(tmp_path)
    result = invoke("compare")
    assert result.exit_code == 0
    assert "Baseline: no finished run on main yet." in result.stdout
    assert "No experiment branches have runs yet." in result.stdout
    data = json.loads(invoke("compare", "--format", "json").stdout)
    assert data["baseline"] is None and data["branches"] == [] and data["winner"] is None
    summary = invoke("summary", "--branch", "main")
    assert summary.exit_code == 2 and "(the store is empty)" in summary.stderr
    assert "no runs in" in invoke("runs").stdout


def test_runs_listing_and_log(project: Path) -> None:
    (project / ".harness" / "runs" / "bad1" / "output.log").write_text("a\nb\nc\n")
    listing = invoke("runs", "--state", "crashed", "--format", "json")
    assert [r["id"] for r in json.loads(listing.stdout)["runs"]] == ["crash1"]
    assert "exp/good" in invoke("runs", "--branch", "exp/good").stdout
    assert invoke("log", "bad1", "-n", "2").stdout == "b\nc\n"
    missing = invoke("log", "nope")
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr


def test_harness_group_exposes_the_same_commands(project: Path) -> None:
    result = CliRunner().invoke(harness_cli, ["results", "compare", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["winner"] == "exp/good"
    help_text = CliRunner().invoke(harness_cli, ["--help"]).stdout
    listed = help_text.split("Commands:", 1)[1].splitlines()
    names = {line.split()[0] for line in listed if line.startswith("  ") and line.strip()}
    assert names == {
        "analyze",
        "comment",
        "gc",
        "launch",
        "mark-reported",
        "results",
        "setup-automation",
    }


@pytest.mark.parametrize("command", [[], ["summary"], ["compare"], ["runs"], ["log"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(results_cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage: check-results" in result.stdout


def test_untrusted_text_is_not_read_as_terminal_markup(project: Path) -> None:
    write_run(
        project / ".harness",
        "odd1",
        branch="exp/odd",
        state="failed",
        exit_code=1,
        reason="exit code 1: KeyError: '[/]' [bold red]not markup[/]",
    )
    result = invoke("summary", "--branch", "exp/odd")
    assert result.exit_code == 1
    assert "KeyError: '[/]' [bold red]not markup[/]" in result.stdout
