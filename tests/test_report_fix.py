"""The run-ended report points at the fix: Claude is shown the diff and the failing source
line, a patch it proposes is shown only when it applies at the run's commit; and a report
made while the baseline still runs is provisional, then made again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analysts import open_analyst
from harness.config import load_settings
from harness.events import RunEvent
from harness.manifest import update_manifest
from harness.pipelines import analyze, mark_reported
from harness.stores.local import LocalStore

from .helpers import METRICS_YAML, acc, commit_file, git, make_repo, write_run
from .inert_check import markdown_problems
from .servers.anthropic_server import AnthropicServer

TRAIN = "def main():\n    width = 64\n    return width\n\n\nmain()\n"
BROKEN = "def main():\n    width = 64\n    raise ValueError('shapes do not match')\n\n\nmain()\n"


@pytest.fixture
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as running:
        yield running


@pytest.fixture
def broken(tmp_path: Path) -> tuple[Path, Path, str]:
    """A repository whose branch exp/broken raises at train.py line 3, and its store."""
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "harness.yaml", "wandb: {project: test}\n" + METRICS_YAML)
    base = commit_file(repo, "train.py", TRAIN)
    head = commit_file(repo, "train.py", BROKEN, branch="exp/broken")
    (repo / "train.py").write_text(TRAIN)  # the fix, as git writes a patch
    fix = git(repo, "diff") + "\n"
    git(repo, "checkout", "--quiet", "--", "train.py")
    git(repo, "checkout", "--quiet", "main")
    home = tmp_path / "store"
    write_run(home, "base0", commit=base, summary=acc(0.8), config={"width": 32, "lr": 0.1})
    for seed in range(2):
        run = write_run(
            home,
            f"bad{seed}",
            branch="exp/broken",
            commit=head,
            seed=seed,
            state="failed",
            exit_code=1,
            reason="exit code 1",
            config={"width": 64, "lr": 0.1, "seed": seed},
        )
        (run / "output.log").write_text(
            "Traceback (most recent call last):\n"
            f'  File "/home/agent/w{seed}/clone/train.py", line 6, in <module>\n'
            "    main()\n"
            f'  File "/home/agent/w{seed}/clone/train.py", line 3, in main\n'
            "    raise ValueError('shapes do not match')\n"
            "ValueError: shapes do not match\n"
        )
    return repo, home, fix


def run_analyze(repo: Path, home: Path, server: AnthropicServer) -> Path:
    (repo / "harness.yaml").write_text(
        "wandb: {project: test}\n" + METRICS_YAML + "analysis: {model: claude-test}\n"
    )
    settings = load_settings(cwd=repo, env={"HARNESS_HOME": str(home)})
    env = {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": server.url}
    out = repo.parent / "out"
    analyze(
        settings,
        LocalStore(home),
        RunEvent(None, None),
        out_dir=out,
        repo=repo,
        analyst=open_analyst(settings, env),
    )
    git(repo, "checkout", "--quiet", "--", "harness.yaml")
    return out


def answer(patch: str) -> str:
    return json.dumps(
        {
            "what_happened": "both seeds raised `ValueError` at `train.py:3`",
            "likely_cause": "the new `raise` in `main`",
            "next_step": "remove it",
            "patch": patch,
        }
    )


def test_the_prompt_holds_the_diff_and_the_failing_line_and_a_valid_patch_is_shown(
    broken: tuple[Path, Path, str], server: AnthropicServer
) -> None:
    repo, home, fix = broken
    server.answer = answer(fix)
    out = run_analyze(repo, home, server)
    prompt = next(
        r["body"]["messages"][0]["content"]
        for r in server.requests
        if "exp/broken" in r["body"]["messages"][0]["content"]
    )
    data = json.loads(prompt.split("\n", 3)[3].rsplit("\n", 2)[0])
    assert "+    raise ValueError('shapes do not match')" in data["changes"]["diff"]
    [failure] = data["failures"]
    assert failure["seeds"] == [0, 1] and failure["source"]["line"] == 3
    assert {"line": 3, "text": "    raise ValueError('shapes do not match')"} in failure["source"][
        "lines"
    ]
    assert data["hyperparameters"] == [{"key": "width", "baseline": ["32"], "branch": ["64"]}]
    report = (out / "exp%2Fbroken.md").read_text()
    assert markdown_problems(report) == []
    assert "#### 💥 2 of 2 run(s) (seeds 0, 1) failed: exception" in report
    assert report.count("ValueError: shapes do not match") >= 1
    assert "→ 3 |     raise ValueError('shapes do not match')" in report
    assert "/home/agent" not in report
    assert "**Suggested patch** (applies cleanly at" in report
    assert "```diff\ndiff --git a/train.py b/train.py" in report
    assert "**Likely cause**\n\nthe new `raise` in `main`" in report


def test_a_patch_that_does_not_apply_is_dropped_with_a_note(
    broken: tuple[Path, Path, str], server: AnthropicServer
) -> None:
    repo, home, fix = broken
    server.answer = answer(fix.replace("width = 64", "width = 65"))
    report = (run_analyze(repo, home, server) / "exp%2Fbroken.md").read_text()
    assert "Suggested patch" not in report
    assert "A suggested patch was left out: git apply --check rejected it" in report


def test_a_report_made_while_the_baseline_runs_is_provisional_then_made_again(
    tmp_path: Path,
) -> None:
    (tmp_path / "harness.yaml").write_text(METRICS_YAML + "analysis: {engine: none}\n")
    home = tmp_path / ".harness"
    for seed in range(2):
        write_run(home, f"base{seed}", seed=seed, summary=acc(0.80 + seed / 100))
    last = write_run(home, "base2", seed=2, state="running", exit_code=None)
    write_run(home, "good1", branch="exp/good", commit="c" * 40, summary=acc(0.95))
    settings = load_settings(cwd=tmp_path, env={})
    store = LocalStore(home)
    out = tmp_path / "out"

    def reports(event: RunEvent) -> dict[str, dict[str, object]]:
        analyze(settings, LocalStore(home), event, out_dir=out, repo=None, analyst=None)
        return {r["branch"]: r for r in json.loads((out / "index.json").read_text())["reports"]}

    first = reports(RunEvent(None, None, branch="exp/good"))
    assert first["exp/good"]["provisional"] is True and first["exp/good"]["runs"] == []
    good = (out / "exp%2Fgood.md").read_text()
    assert "2 of 3 seeds finished" in good and "Provisional" in good
    mark_reported(store, out)
    assert store.get("good1").reported_at is None  # left for the next analyze
    update_manifest(last, state="finished", exit_code=0, summary=acc(0.82))
    again = reports(RunEvent(None, None, branch="main", run_id="base2"))  # the baseline's last
    assert again["exp/good"]["provisional"] is False and again["exp/good"]["runs"] == ["good1"]
    assert "main" in again
    assert "seeds finished" not in (out / "exp%2Fgood.md").read_text()
