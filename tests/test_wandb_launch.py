"""launch-job --backend wandb: the real ``wandb`` client makes the branch's git job and
queues its seeds on a local W&B GraphQL server, through the real console script.

Assertions are on what the server stored (the job artifact and its files, the queue's
items and their run specs), i.e. on what the client really sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.launchers.wandb import HELPER_JOB_TYPE, job_identity, normalize_remote

from .helpers import BIN, commit_file, git, make_repo, wandb_env
from .schemas import assert_valid
from .servers.wandb_server import WandbServer

pytestmark = pytest.mark.slow  # the real wandb client and its wandb-core, per command

REMOTE = "https://github.com/octo/exp.git"
CONFIG = (
    "wandb: {project: test}\nlaunch: {entry_point: train.py, queue: gpus, args: ['--lr=0.1']}\n"
)

Served = tuple[Path, WandbServer, dict[str, str]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main, and exp/x which changes train.py and pins Python 3.10; both 'pushed'."""
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", REMOTE)
    commit_file(repo, "harness.yaml", CONFIG)
    commit_file(repo, "train.py", "print('main')\n")
    commit_file(repo, "requirements.txt", "numpy\n")
    git(repo, "checkout", "--quiet", "-b", "exp/x")
    commit_file(repo, ".python-version", "3.10.4\n")
    commit_file(repo, "train.py", "print('wider')\n")
    git(repo, "checkout", "--quiet", "main")
    push(repo, "main", "exp/x")
    return repo


def push(repo: Path, *branches: str) -> None:
    """What a push leaves in a checkout: origin's branches point at the commits."""
    for branch in branches:
        git(repo, "update-ref", f"refs/remotes/origin/{branch}", f"refs/heads/{branch}")


@pytest.fixture
def served(repo: Path, tmp_path: Path) -> Iterator[Served]:
    with WandbServer(entity="team", project="test") as server:
        server.add_queue("gpus")
        env = wandb_env(
            server.url,
            server.api_key,
            tmp_path,
            HARNESS_BACKEND="wandb",
            WANDB_MODE="offline",  # the helper run must go online whatever the caller says
        )
        yield repo, server, env
        assert server.unknown == [], "the client sent operations the server does not know"
        assert server.invalid == [], "the client sent queries W&B would refuse"


def launch(served: Served, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    repo, _, base = served
    return subprocess.run(
        [str(BIN / "launch-job"), *args],
        cwd=repo,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def launched(served: Served, *args: str, **env: str) -> dict[str, Any]:
    done = launch(served, "--format", "json", *args, **env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    assert_valid("launch", data)
    return data


def uploaded(server: WandbServer, artifact: dict[str, Any], name: str) -> bytes:
    return server.uploads[artifact["files"][name]]


def test_the_job_is_the_pushed_commit_and_its_entry_point(served: Served) -> None:
    repo, server, _ = served
    commit = git(repo, "rev-parse", "exp/x")

    data = launched(served, "--branch", "exp/x")

    [job] = server.artifacts
    assert job["type"] == "job" and job["state"] == "COMMITTED"
    assert job["collection"] == "harness-exp-x"
    assert sorted(job["aliases"]) == [f"exp-x-{commit[:7]}", "latest"]
    assert job["metadata"] == {"_partial": True}  # as `wandb job create` marks its jobs
    spec = json.loads(uploaded(server, job, "wandb-job.json"))
    assert spec["source_type"] == "repo" and spec["runtime"] == "3.10"
    assert spec["source"] == {
        "git": {"remote": REMOTE, "commit": commit},
        "entrypoint": ["python", "train.py"],
        "notebook": False,
    }
    assert uploaded(server, job, "requirements.frozen.txt") == b"numpy\n"
    # The hidden run that logged it is gone: no run is left for the run store to read.
    [helper] = server.deleted_runs
    assert server.runs == {}
    [created] = [v for n, v in server.requests if n == "UpsertBucket" and v.get("jobType")]
    assert created["name"] == helper and created["jobType"] == HELPER_JOB_TYPE
    assert "branch" not in json.loads(created["config"])
    assert data["job"] == f"team/test/harness-exp-x:exp-x-{commit[:7]}"
    assert (data["remote"], data["entry_point"], data["python"]) == (REMOTE, "train.py", "3.10")


def test_each_item_carries_the_run_identity(served: Served) -> None:
    repo, server, _ = served
    commit = git(repo, "rev-parse", "exp/x")
    group = f"exp/x@{commit[:7]}"

    data = launched(served, "--branch", "exp/x")

    [item] = server.queued
    assert item["state"] == "PENDING"
    spec = item["runSpec"]
    assert spec["job"] == f"team/test/harness-exp-x:exp-x-{commit[:7]}"
    assert (spec["entity"], spec["project"]) == ("team", "test")
    assert spec["overrides"] == {
        "run_config": {"branch": "exp/x", "commit": commit, "seed": 0, "group": group},
        "args": ["--lr=0.1"],
    }
    [push_request] = [v for n, v in server.requests if n == "pushToRunQueueByName"]
    assert (push_request["entityName"], push_request["queueName"]) == ("team", "gpus")
    assert push_request["projectName"] == "model-registry"  # where W&B keeps queues
    queue = server.queues["gpus"]
    assert data["items"] == [
        {
            "id": item["id"],
            "seed": 0,
            "url": f"{server.url}/team/launch/{queue['id']}",
            "run_id": spec["run_id"],
            "run_url": f"{server.url}/team/test/runs/{spec['run_id']}",
        }
    ]
    assert (data["schema_version"], data["backend"], data["branch"]) == (1, "wandb", "exp/x")
    assert (data["commit"], data["queue"], data["superseded"]) == (commit, "gpus", [])


def test_three_seeds_are_three_items_of_one_job_in_one_group(served: Served) -> None:
    repo, server, _ = served
    commit = git(repo, "rev-parse", "exp/x")

    commit_file(
        repo,
        "harness.yaml",
        CONFIG.replace("['--lr=0.1']", "['--lr=0.1', '--seed', '{seed}', '--id={run_id}']"),
        branch="exp/x",
    )
    git(repo, "checkout", "--quiet", "main")
    push(repo, "exp/x")
    commit = git(repo, "rev-parse", "exp/x")

    done = launch(served, "--branch", "exp/x", "--seeds", "3")

    assert done.returncode == 0, done.stderr
    configs = [item["runSpec"]["overrides"]["run_config"] for item in server.queued]
    assert [c["seed"] for c in configs] == [0, 1, 2]
    assert {c["group"] for c in configs} == {f"exp/x@{commit[:7]}"}
    assert len({item["runSpec"]["run_id"] for item in server.queued}) == 3
    assert len(server.artifacts) == 1
    # Each item's arguments have its own seed and run id filled in.
    for seed, item in enumerate(server.queued):
        spec = item["runSpec"]
        assert spec["overrides"]["args"] == [
            "--lr=0.1",
            "--seed",
            str(seed),
            f"--id={spec['run_id']}",
        ]
    queue_url = f"{server.url}/team/launch/{server.queues['gpus']['id']}"
    run_ids = [item["runSpec"]["run_id"] for item in server.queued]
    assert done.stdout.splitlines()[-5:] == [
        f"job   team/test/harness-exp-x:exp-x-{commit[:7]}",
        *(
            f"seed {seed}  item {item['id']}  run {run_id}"
            for seed, (item, run_id) in enumerate(zip(server.queued, run_ids, strict=True))
        ),
        f"queue {queue_url}",
    ]
    assert done.stderr == ""


def test_a_new_push_supersedes_the_older_commit_s_pending_items(
    served: Served, tmp_path: Path
) -> None:
    repo, server, _ = served
    settings = tmp_path / "supersede.yaml"  # this checkout's settings (HARNESS_CONFIG)
    settings.write_text(CONFIG.replace("queue: gpus", "queue: gpus, supersede: true"))
    served = (repo, server, {**served[2], "HARNESS_CONFIG": str(settings)})
    git(repo, "checkout", "--quiet", "-b", "exp/y", "main")
    commit_file(repo, "train.py", "print('other')\n")
    push(repo, "exp/y")
    old = git(repo, "rev-parse", "exp/x")
    first = launched(served, "--branch", "exp/x", "--seeds", "3")
    other = launched(served, "--branch", "exp/y")
    claimed = first["items"][0]["id"]
    server.claim(claimed, first["items"][0]["run_id"])  # an agent started seed 0
    git(repo, "checkout", "--quiet", "exp/x")
    new = commit_file(repo, "train.py", "print('wider still')\n")
    push(repo, "exp/x")

    second = launched(served, "--branch", "exp/x", "--seeds", "2")

    assert second["superseded"] == [
        {"id": item["id"], "commit": old, "seed": item["seed"]} for item in first["items"][1:]
    ]
    left = [(i["id"], i["runSpec"]["overrides"]["run_config"]["commit"]) for i in server.queued]
    assert left == [
        (claimed, old),  # claimed by an agent: it runs, whatever came after
        (other["items"][0]["id"], other["commit"]),  # another branch
        *((item["id"], new) for item in second["items"]),
    ]


def test_without_an_entity_the_key_s_default_entity_is_used(served: Served) -> None:
    _, server, _ = served
    dry = launch(served, "--branch", "exp/x", "--dry-run", WANDB_ENTITY="")
    assert "  job           <default entity>/test/harness-exp-x:" in dry.stdout
    data = launched(served, "--branch", "exp/x", WANDB_ENTITY="")
    assert data["entity"] == "team" and data["job"].startswith("team/test/harness-exp-x:")
    assert [item["runSpec"]["entity"] for item in server.queued] == ["team"]


def test_without_supersede_older_items_stay(served: Served) -> None:
    repo, server, _ = served
    launched(served, "--branch", "exp/x")
    commit_file(repo, "train.py", "print('later')\n", branch="exp/x")
    push(repo, "exp/x")
    assert launched(served, "--branch", "exp/x")["superseded"] == []
    assert len(server.queued) == 2


def test_dry_run_contacts_nothing(served: Served) -> None:
    repo, server, _ = served
    commit = git(repo, "rev-parse", "exp/x")
    short = commit[:7]

    done = launch(served, "--branch", "exp/x", "--seeds", "2", "--dry-run", WANDB_API_KEY="")

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"would queue 2 run(s) of exp/x @ {short} on W&B Launch (dry run: nothing was contacted)",
        f"  commit        {commit}",
        f"  remote        {REMOTE}",
        f"  job           team/test/harness-exp-x:exp-x-{short}",
        "  entry point   python train.py --lr=0.1",
        "  python        3.10 (from .python-version)",
        "  requirements  requirements.txt",
        "  queue         gpus (project team/test; supersede off)",
        *(
            f"  seed {s}        run_config "
            + json.dumps(
                {"branch": "exp/x", "commit": commit, "seed": s, "group": f"exp/x@{short}"}
            )
            for s in range(2)
        ),
    ]
    as_json = launch(
        served,
        "--branch",
        "exp/x",
        "--dry-run",
        "--format",
        "json",
        WANDB_BASE_URL="http://127.0.0.1:9",
    )
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert_valid("launch", plan)
    assert plan["dry_run"] is True and plan["items"][0]["id"] is None
    assert plan["items"][0]["run_config"]["commit"] == commit
    assert server.requests == []


def test_an_unpushed_commit_is_queued_with_a_warning(served: Served) -> None:
    repo, server, _ = served
    commit_file(repo, "train.py", "print('not pushed')\n", branch="exp/x")
    done = launch(served, "--branch", "exp/x")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("launch-job: warning: exp/x@") and "push it" in done.stderr
    assert len(server.queued) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--branch", "bad..name"], "invalid branch name 'bad..name': contains '..'"),
        (["--branch", "exp/none"], "branch 'exp/none' does not exist"),
        (["--branch", "exp/x", "--timeout", "5m"], "--timeout is for the local backend"),
        (["--branch", "exp/x", "--backend", "local", "--dry-run"], "--dry-run is for the wandb"),
    ],
)
def test_bad_input_fails_before_anything(served: Served, args: list[str], message: str) -> None:
    _, server, _ = served
    done = launch(served, *args)
    assert done.returncode == 2
    assert done.stderr.startswith(f"launch-job: error: {message}") and done.stderr.count("\n") == 1
    assert server.requests == []


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        (None, "has no git remote 'origin': W&B Launch agents clone the branch from it"),
        ("/srv/git/exp.git", "git remote 'origin' is '/srv/git/exp.git': W&B Launch agents"),
        ("file:///srv/git/exp.git", "git remote 'origin' is 'file:///srv/git/exp.git'"),
    ],
)
def test_the_remote_must_be_one_an_agent_can_clone(
    served: Served, origin: str | None, message: str
) -> None:
    repo, server, _ = served
    if origin is None:
        git(repo, "remote", "remove", "origin")
    else:
        git(repo, "remote", "set-url", "origin", origin)
    done = launch(served, "--branch", "exp/x")
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert server.requests == []


def test_no_queue_is_a_configuration_error(served: Served) -> None:
    repo, server, _ = served
    (repo / "harness.yaml").write_text("wandb: {project: test}\n")
    done = launch(served, "--branch", "exp/x")
    assert done.returncode == 2
    assert done.stderr == (
        "launch-job: error: no W&B Launch queue: set launch.queue in harness.yaml or "
        "HARNESS_LAUNCH_QUEUE\n"
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HARNESS_LAUNCH_QUEUE": "cpus"}, "W&B: no Launch queue 'cpus' in entity team (create"),
        ({"WANDB_API_KEY": ""}, "W&B: no API key (set WANDB_API_KEY"),
        ({"WANDB_API_KEY": "z" * 40}, "W&B refused the API key at http"),
        (
            {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB__GRAPHQL_RETRY_MAX": "1"},
            "cannot reach W&B at http://127.0.0.1:9: ",
        ),
        ({"WANDB_PROJECT": "nowhere"}, "W&B: no project team/nowhere (create it in W&B"),
    ],
)
def test_wandb_problems_are_one_line_and_leave_nothing(
    served: Served, env: dict[str, str], message: str
) -> None:
    _, server, _ = served
    done = launch(served, "--branch", "exp/x", **env)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(f"launch-job: error: {message}"), done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert server.queued == [] and server.artifacts == [] and server.runs == {}


def test_a_job_that_cannot_be_made_queues_nothing_and_leaves_no_run(served: Served) -> None:
    _, server, _ = served
    server.fail_after.update(CommitArtifact=0)

    done = launch(served, "--branch", "exp/x")

    assert done.returncode == 2
    assert done.stderr.startswith("launch-job: error: W&B: cannot make job team/test/harness-")
    assert "CommitArtifact is refused" in done.stderr and done.stderr.count("\n") == 1
    assert server.queued == [] and server.runs == {} and len(server.deleted_runs) == 1


def test_a_failure_part_way_deletes_what_was_queued(served: Served) -> None:
    _, server, _ = served
    # The queue takes two items, then refuses (by name, and by id on the client's fallback).
    server.fail_after.update(pushToRunQueueByName=2, pushToRunQueue=0)

    done = launch(served, "--branch", "exp/x", "--seeds", "3")

    assert done.returncode == 1
    assert done.stderr.startswith("launch-job: error: W&B: queuing seed 2 of exp/x@")
    assert done.stderr.endswith("; its 2 queued item(s) were deleted\n")
    assert done.stderr.count("\n") == 1
    assert server.queued == []
    assert server.operations.count("DeleteFromRunQueue") == 2


def test_an_item_pushed_before_its_call_failed_is_deleted_too(served: Served) -> None:
    _, server, _ = served
    # launch_add checks the job only after pushing: the first check fails, so the item of
    # seed 0 is in the queue although the call raised.
    server.fail_after.update(ArtifactMembershipByName=0)

    done = launch(served, "--branch", "exp/x", "--seeds", "2")

    assert done.returncode == 1
    assert "queuing seed 0 of exp/x@" in done.stderr
    assert done.stderr.endswith("; its 1 queued item(s) were deleted\n")
    assert server.operations.count("pushToRunQueueByName") == 1
    assert server.queued == []


def test_nothing_queued_when_the_first_push_fails(served: Served) -> None:
    _, server, _ = served
    server.fail_after.update(pushToRunQueueByName=0, pushToRunQueue=0)
    done = launch(served, "--branch", "exp/x", "--seeds", "2")
    assert done.returncode == 2
    assert done.stderr.endswith("; nothing was queued\n") and done.stderr.count("\n") == 1
    assert server.queued == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:octo/exp.git", "https://github.com/octo/exp.git"),
        ("ssh://git@github.com:22/octo/exp.git", "https://github.com/octo/exp.git"),
        ("https://x-access-token:secret@github.com/octo/exp.git", REMOTE),
        ("http://git.example:8080/octo/exp", "http://git.example:8080/octo/exp"),
    ],
)
def test_remotes_become_https_urls_without_credentials(url: str, expected: str) -> None:
    assert normalize_remote(url) == expected


@pytest.mark.parametrize("url", ["/srv/exp.git", "file:///srv/exp.git", "../exp", "ftp://h/x"])
def test_other_remotes_are_refused(url: str) -> None:
    with pytest.raises(UsageError, match="W&B Launch agents clone an http"):
        normalize_remote(url)


def test_job_names_use_only_safe_characters() -> None:
    assert job_identity("exp/wider mlp#2", "0123456789") == (
        "harness-exp-wider-mlp-2",
        "exp-wider-mlp-2-0123456",
    )


AGENT_RUN = """
from harness import tracking
run = tracking.init(config={"lr": 0.1})
for step in range(1, 4):
    run.log({"val/accuracy": 0.5 + step / 10}, step=step)
run.finish()
"""
# A script that knows nothing of the harness: the agent's WANDB_CONFIG alone carries the
# branch into wandb.config.
PLAIN_AGENT_RUN = """
import wandb
run = wandb.init(config={"lr": 0.1})
for step in range(1, 4):
    run.log({"val/accuracy": 0.5 + step / 10}, step=step)
run.finish()
"""


@pytest.mark.parametrize("script", [AGENT_RUN, PLAIN_AGENT_RUN], ids=["tracking", "plain"])
def test_a_run_started_by_a_launch_agent_is_read_back_by_the_store(
    served: Served, tmp_path: Path, script: str
) -> None:
    """The queued run config reaches wandb.config, the run logs online (harness.yaml says
    backend local), and check-results finds it under its branch, whether the script uses
    harness.tracking or plain wandb."""
    repo, server, env = served
    data = launched(served, "--branch", "exp/x")
    item = next(i for i in server.queued if i["id"] == data["items"][0]["id"])
    spec = item["runSpec"]
    run_config = (json.loads(spec) if isinstance(spec, str) else spec)["overrides"]["run_config"]
    agent_env = {  # what a launch agent hands the run it starts
        **env,
        "WANDB_MODE": "online",
        "WANDB_LAUNCH": "true",
        "WANDB_CONFIG": json.dumps(run_config),
        "WANDB_RUN_ID": "agentrun1",
        "WANDB_PROJECT": "test",
        "WANDB_DIR": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    (repo / "harness.yaml").write_text(
        "backend: local\nwandb: {project: test}\n"
        "metrics:\n  - {name: val/accuracy, goal: maximize, primary: true}\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo,
        env=agent_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert not (repo / ".harness").exists()  # nothing went to a local store
    run = server.runs["agentrun1"]
    assert run.state == "finished" and run.config["seed"] == run_config["seed"]
    assert (run.config["branch"], run.config["commit"]) == (
        "exp/x",
        git(repo, "rev-parse", "exp/x"),
    )
    if script is AGENT_RUN:  # a plain wandb.init() takes no group from the run config
        assert run.group == run_config["group"]
    shown = subprocess.run(
        [str(BIN / "check-results"), "runs", "--branch", "exp/x", "--format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    [found] = json.loads(shown.stdout)["runs"]
    assert found["id"] == "agentrun1" and found["state"] == "finished"


def test_both_backends_go_through_one_pipeline_and_launcher(served: Served) -> None:
    """launch-job reaches the W&B launcher as it reaches the local one: open_launcher and
    pipelines.launch_branch (a dry run: nothing contacted)."""
    from harness.config import load_settings
    from harness.launchers import LocalLauncher, open_launcher
    from harness.launchers.wandb import WandbLauncher
    from harness.pipelines import Queued, launch_branch

    repo, server, env = served
    settings = load_settings(cwd=repo, env=env)
    launcher = open_launcher(settings, repo=repo)
    assert isinstance(launcher, WandbLauncher)
    commit = git(repo, "rev-parse", "exp/x")
    local = LocalLauncher(settings, repo=repo).branch_settings("exp/x", commit)
    assert launcher.branch_settings("exp/x", commit) == local
    result = launch_branch(settings, "exp/x", repo=repo, seeds=2, dry_run=True)
    assert isinstance(result, Queued) and result.outcome is None
    assert (result.plan.commit, result.plan.seeds) == (commit, 2)
    assert server.requests == []
