"""The W&B backend: the real ``wandb`` client reads runs from a local W&B GraphQL server.

The server holds the same runs as the local store of ``ended_runs`` (a baseline, a better
branch, a traceback, a SIGKILL and a NaN loss), as W&B holds them once synced, so the
reports made through ``wandb.Api`` must say what the local ones say.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.stores.wandb import CURVE_SAMPLES, REPORTED_TAG

from .helpers import BIN, offline_env, wandb_env
from .servers.anthropic_server import AnthropicServer
from .servers.wandb_server import FakeRun, WandbServer, runs_from_local_store

pytestmark = pytest.mark.slow  # the real wandb client and its wandb-core, per command

Served = tuple[Path, WandbServer, dict[str, str]]


@pytest.fixture
def served(ended_runs: tuple[Path, Path], tmp_path: Path) -> Iterator[Served]:
    repo, home = ended_runs
    with WandbServer(entity="team", project="test") as server:
        for run in runs_from_local_store(home):
            server.add(run)
        env = wandb_env(
            server.url,
            server.api_key,
            tmp_path,
            HARNESS_BACKEND="wandb",
            HARNESS_HOME=str(tmp_path / "empty-local-store"),  # nothing may come from here
        )
        yield repo, server, env
        assert server.unknown == [], "the client sent operations the server does not know"
        assert server.invalid == [], "the client sent queries W&B would refuse"


def cli(served: Served, program: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    repo, _, base = served
    return subprocess.run(
        [str(BIN / program), *args],
        cwd=repo,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_analyze_through_wandb_says_what_the_local_store_says(
    served: Served, tmp_path: Path
) -> None:
    _, server, _ = served
    out = tmp_path / "reports"
    with AnthropicServer() as claude:
        claude.answer = "**What happened** the loss diverged; lower the learning rate."
        done = cli(
            served,
            "harness",
            "analyze",
            "--out",
            str(out),
            ANTHROPIC_API_KEY="k",
            ANTHROPIC_BASE_URL=claude.url,
        )
    assert done.returncode == 0, done.stderr
    assert len(claude.requests) == 5  # one analysis per branch
    index = json.loads((out / "index.json").read_text())
    assert {r["branch"]: r["verdict"] for r in index["reports"]} == {
        "exp/fails": "failed",
        "exp/good": "better",
        "exp/killed": "failed",
        "exp/nan": "failed",
        "main": "baseline",
    }
    good = (out / "exp%2Fgood.md").read_text()
    assert good.startswith("<!-- harness:report branch=exp%2Fgood -->\n### ✅ exp/good beats main")
    assert "```mermaid\nxychart-beta" in good and "line 1 = `main (baseline)`" in good
    [good_run] = [r for r in server.runs.values() if r.config.get("branch") == "exp/good"]
    assert f"]({server.url}/team/test/runs/{good_run.name})" in good
    assert "#### Changes since" in good and "train.py | 2 +-" in good
    fails = json.loads((out / "exp%2Ffails.json").read_text())["diagnoses"][0]
    assert fails["category"] == "exception"
    assert fails["summary"] == "raised ValueError: shapes do not match"
    assert fails["excerpt"][0] == "Traceback (most recent call last):"
    killed = json.loads((out / "exp%2Fkilled.json").read_text())["diagnoses"][0]
    assert killed["category"] == "killed" and "heartbeats" in killed["summary"]
    nan = json.loads((out / "exp%2Fnan.json").read_text())["diagnoses"][0]
    assert nan["category"] == "nan" and "NonFiniteLoss" in nan["summary"]
    nan_md = (out / "exp%2Fnan.md").read_text()
    assert "#### Analysis (Claude (Anthropic API))" in nan_md and "lower the learning" in nan_md
    nan_prompt = next(
        r["body"]["messages"][0]["content"]
        for r in claude.requests
        if "NonFiniteLoss" in r["body"]["messages"][0]["content"]
    )
    assert "exp/nan" in nan_prompt
    samples = [
        json.loads(spec)["samples"]
        for name, variables in server.requests
        if name == "RunSampledHistory"
        for spec in variables["specs"]
    ]
    assert samples and max(samples) == CURVE_SAMPLES
    tails = [v["last"] for name, v in server.requests if name == "RunConsoleLogTail"]
    assert tails and max(tails) <= 200  # a bounded tail, never the whole log


def test_compare_ranks_the_same_through_wandb_and_locally(
    served: Served, ended_runs: tuple[Path, Path]
) -> None:
    def ranking(done: subprocess.CompletedProcess[str]) -> object:
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        branches = {
            b["branch"]: (
                b["primary_verdict"],
                b["commit"],
                b["states"],
                [(m["verdict"], m["value"]) for m in b["metrics"]],
            )
            for b in data["branches"]
        }
        return data["winner"], data["baseline"]["commit"], branches

    repo, home = ended_runs
    through_wandb = cli(served, "check-results", "compare", "--format", "json")
    local = subprocess.run(
        [str(BIN / "check-results"), "compare", "--format", "json"],
        cwd=repo,
        env=offline_env(HARNESS_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ranking(through_wandb) == ranking(local)


def test_mark_reported_tags_the_runs_and_keeps_their_summary(
    served: Served, tmp_path: Path
) -> None:
    _, server, _ = served
    summaries = {name: dict(run.summary) for name, run in server.runs.items()}
    out = tmp_path / "reports"
    assert (
        cli(served, "harness", "analyze", "--branch", "exp/good", "--out", str(out)).returncode == 0
    )
    marked = cli(served, "harness", "mark-reported", str(out))
    assert marked.returncode == 0, marked.stderr
    assert marked.stdout == "marked 1 run(s) reported\n"
    tagged = [name for name, run in server.runs.items() if REPORTED_TAG in run.tags]
    assert [server.runs[n].config["branch"] for n in tagged] == ["exp/good"]
    assert {name: run.summary for name, run in server.runs.items()} == summaries
    assert cli(served, "harness", "mark-reported", str(out)).returncode == 0  # a retried step
    assert server.runs[tagged[0]].tags.count(REPORTED_TAG) == 1
    again = cli(served, "harness", "analyze", "--out", str(out), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert "exp/good" not in {r["branch"] for r in json.loads(again.stdout)["reports"]}


def test_an_event_of_another_entity_is_refused(served: Served, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"client_payload": {"entity_name": "someone-else", "project_name": "test"}})
    )
    done = cli(served, "harness", "analyze", "--event-file", str(event), "--out", str(tmp_path))
    assert done.returncode == 2
    assert "event: entity 'someone-else' is not this repository's W&B entity" in done.stderr


def test_log_tail_asks_for_the_last_lines_only(served: Served) -> None:
    _, server, _ = served
    server.add(
        FakeRun(
            "hugelog1",
            state="failed",
            config={"branch": "exp/chatty"},
            log=[f"line {i}" for i in range(200_000)],
        )
    )
    done = cli(served, "check-results", "log", "hugelog1", "--lines", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["line 199997", "line 199998", "line 199999"]
    assert [v["last"] for n, v in server.requests if n == "RunConsoleLogTail"] == [3]


def test_retries_transient_errors(served: Served) -> None:
    _, server, _ = served
    server.fail_next[:] = [502, 429, 502]
    done = cli(served, "check-results", "compare", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["winner"] == "exp/good"
    assert server.fail_next == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WANDB_API_KEY": ""}, "check-results: error: W&B: no API key (set WANDB_API_KEY"),
        ({"WANDB_API_KEY": "z" * 40}, "check-results: error: W&B refused the API key at http"),
        (
            {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB__GRAPHQL_RETRY_MAX": "1"},
            "check-results: error: cannot reach W&B at http://127.0.0.1:9: ",
        ),
        (
            {"WANDB_PROJECT": "nowhere"},
            "check-results: error: W&B: cannot list the runs of team/nowhere: ",
        ),
    ],
)
def test_wandb_problems_are_one_line_and_exit_2(
    served: Served, env: dict[str, str], message: str
) -> None:
    done = cli(served, "check-results", "compare", **env)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_a_report_made_while_the_baseline_runs_is_made_again_after_it_ends(
    served: Served, tmp_path: Path
) -> None:
    """On W&B too: a running baseline seed makes exp/good's report provisional (its run is
    not tagged reported), and the analyze after that seed ends makes it again."""
    _, server, _ = served
    [main] = [r for r in server.runs.values() if r.config.get("branch") == "main"]
    later = replace(
        main,
        name="mainseed1",
        state="running",
        config={**main.config, "seed": 1},
        summary={},
        tags=[],
        history=[],
    )
    server.add(later)
    out = tmp_path / "reports"
    first = cli(served, "harness", "analyze", "--branch", "exp/good", "--out", str(out))
    assert first.returncode == 0, first.stderr
    [entry] = json.loads((out / "index.json").read_text())["reports"]
    assert entry["provisional"] is True and entry["runs"] == []
    assert "1 of 2 seeds finished" in (out / "exp%2Fgood.md").read_text()
    assert cli(served, "harness", "mark-reported", str(out)).stdout == "marked 0 run(s) reported\n"
    later.state, later.summary = "finished", dict(main.summary)
    again = cli(served, "harness", "analyze", "--branch", "main", "--out", str(out))
    assert again.returncode == 0, again.stderr
    reports = {r["branch"]: r for r in json.loads((out / "index.json").read_text())["reports"]}
    assert reports["exp/good"]["provisional"] is False and len(reports["exp/good"]["runs"]) == 1
    assert "seeds finished" not in (out / "exp%2Fgood.md").read_text()
