"""The run-ended report points at the fix: Claude is shown the diff and the failing source
line, a patch it proposes is shown only when it applies at the run's commit; and a report
made while the baseline still runs is provisional, then made again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analysts import open_analyst
from harness.config import load_settings
from harness.events import RunEvent
from harness.manifest import update_manifest
from harness.pipelines import analyze, mark_reported
from harness.stores.local import LocalStore

from .helpers import (
    METRICS_YAML,
    REPO_ROOT,
    acc,
    claude_bin,
    commit_file,
    git,
    make_repo,
    write_run,
)
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


@pytest.mark.slow  # the real Claude Code CLI
def test_claude_code_reads_the_checkout_and_nothing_else(
    broken: tuple[Path, Path, str], server: AnthropicServer, tmp_path: Path
) -> None:
    """The model asks to write, edit, run, and read /proc/self/environ and the home folder:
    all refused; reading the checkout works; the checkout is unchanged; a secret it
    echoes is redacted."""
    repo, home, _ = broken
    secret = "sk-ant-test-0123456789"
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    def calls() -> list[tuple[str, dict[str, object]]]:
        [checkout] = scratch.glob("harness-checkout-*/checkout")
        return [
            ("Write", {"file_path": str(checkout / "pwned.txt"), "content": "x"}),
            (
                "Edit",
                {"file_path": str(checkout / "train.py"), "old_string": "64", "new_string": "1"},
            ),
            ("Bash", {"command": f"touch {checkout}/ran"}),
            ("Read", {"file_path": "/proc/self/environ"}),
            ("Read", {"file_path": str(Path.home() / ".bashrc")}),
            ("Read", {"file_path": str(repo / "harness.yaml")}),  # the real checkout: outside
            ("Read", {"file_path": str(checkout / "train.py")}),
        ]

    server.mode, server.tool_calls = "tools", calls
    server.answer = answer("").replace("remove it", f"remove it; key {secret}")
    (repo / "harness.yaml").write_text(
        "wandb: {project: test}\n"
        + METRICS_YAML
        + "analysis: {engine: claude_code, model: claude-test, timeout: 60s, read_checkout: true}\n"
    )
    settings = load_settings(cwd=repo, env={"HARNESS_HOME": str(home)})
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "ANTHROPIC_API_KEY": secret,
        "ANTHROPIC_BASE_URL": server.url,
        "GITHUB_TOKEN": "ghs_never_passed_on",
        "HARNESS_CLAUDE_BIN": claude_bin(),
    }
    out = tmp_path / "out"
    old_tmp = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            analyze(
                settings,
                LocalStore(home),
                RunEvent(None, None, branch="exp/broken"),
                out_dir=out,
                repo=repo,
                analyst=open_analyst(settings, env),
            )
    finally:
        tempfile.tempdir = old_tmp
        git(repo, "checkout", "--quiet", "--", "harness.yaml")
    results = {r["tool_use_id"]: r for r in server.tool_results()}
    refused = [results[f"toolu_{i:02d}"] for i in range(6)]
    assert all(r.get("is_error") for r in refused), refused
    allowed = results["toolu_06"]
    assert not allowed.get("is_error") and "raise ValueError" in json.dumps(allowed["content"])
    assert all(
        secret not in json.dumps(r) and "ghs_" not in json.dumps(r) for r in results.values()
    )
    assert not list(scratch.iterdir())  # the checkout is gone, and nothing ran in it
    report = (out / "exp%2Fbroken.md").read_text()
    assert "changed the checkout" not in report and "remove it; key \\[redacted\\]" in report
    assert secret not in report


class WritingEngine:
    """An engine that writes into the checkout it was given (what a broken or tricked
    engine could do): the pipeline must notice and show no answer."""

    name = "writer"

    def analyze(self, system: str, prompt: str, *, checkout: Path | None = None) -> str:
        assert checkout is not None
        (checkout / "train.py").write_text("changed\n")
        return answer("")


def test_a_changed_checkout_is_reported_not_trusted(
    broken: tuple[Path, Path, str], tmp_path: Path
) -> None:
    repo, home, _ = broken
    (repo / "harness.yaml").write_text(
        "wandb: {project: test}\n"
        + METRICS_YAML
        + "analysis: {engine: claude_code, read_checkout: true}\n"
    )
    settings = load_settings(cwd=repo, env={"HARNESS_HOME": str(home)})
    git(repo, "checkout", "--quiet", "--", "harness.yaml")
    out = tmp_path / "out"
    event = RunEvent(None, None, branch="exp/broken")
    analyze(settings, LocalStore(home), event, out_dir=out, repo=repo, analyst=WritingEngine())
    report = (out / "exp%2Fbroken.md").read_text()
    assert "Analysis skipped: the engine changed the checkout it was to read" in report
    assert "**What happened**" not in report


def test_the_analyze_action_installs_claude_code_only_for_that_engine(tmp_path: Path) -> None:
    runner = tmp_path / "runner"
    (runner / "claude-code" / "node_modules" / ".bin").mkdir(parents=True)
    (runner / "harness-venv").symlink_to(Path(sys.executable).parent.parent)
    (runner / "claude-code" / "node_modules" / ".bin" / "claude").symlink_to(claude_bin())
    script = REPO_ROOT / "actions" / "install-claude-code.sh"
    found = {}
    for engine in ("none", "claude_code"):
        (tmp_path / "harness.yaml").write_text(f"analysis: {{engine: {engine}}}\n")
        github_env = tmp_path / f"env-{engine}"
        done = subprocess.run(
            ["bash", str(script)],
            cwd=tmp_path,
            env={**os.environ, "RUNNER_TEMP": str(runner), "GITHUB_ENV": str(github_env)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        found[engine] = github_env.read_text() if github_env.exists() else ""
    assert found["none"] == ""
    bin_path = runner / "claude-code" / "node_modules" / ".bin" / "claude"
    assert found["claude_code"] == f"HARNESS_CLAUDE_BIN={bin_path}\n"
