"""The real workflows under act: a W&B webhook's dispatch ends as one comment per PR.

The workspace is a copy of this repository (workflows, actions, harness source) whose
actions install the harness into a venv under the runner's temp folder, as on GitHub. The
workflow reads the local store and talks to the local GitHub and Anthropic servers only
because act passes ``HARNESS_BACKEND``, ``HARNESS_HOME``, ``GITHUB_API_URL`` and
``ANTHROPIC_BASE_URL`` (``--env``) and the secrets (``-s``): nothing in the workflow or the
actions knows about tests. The pinned third-party actions (checkout, setup-python,
setup-uv) cannot be fetched here and are replaced by a no-op stand-in; Python and uv come
from the test's PATH.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.manifest import read_json
from harness.render.markdown import marker
from harness.runs import RunState
from harness.stores.local import LocalStore

from .helpers import FAST_WAITS, REPO_ROOT, built_once, commit_file, fresh_store, git, session_temp
from .servers.anthropic_server import AnthropicServer
from .servers.github_server import ACTIONS_BOT, GithubServer

pytestmark = pytest.mark.slow

spec = importlib.util.spec_from_file_location("act_run", REPO_ROOT / "misc" / "act_run.py")
assert spec is not None and spec.loader is not None
act_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(act_run)

REPO = "octo/exp"
PR_BRANCHES = ("exp/good", "exp/fails", "exp/nan")
ANTHROPIC_KEY = "sk-ant-test-key-0123456789"  # act masks secrets in its log: keep them long


def build_workspace(folder: Path) -> None:
    """``folder/exp``: a git repository holding this project's files, with a GitHub remote;
    uv's cache warmed with its install."""
    root = folder / "exp"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name.decode()
        if source.is_file():
            target = root / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "init")
    git(root, "remote", "add", "origin", f"https://github.com/{REPO}.git")
    warm_uv_cache(root, folder / "uv-warm")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``build_workspace``, once for all workers: act copies it for each run, never writes it."""
    return built_once(session_temp(tmp_path_factory), "workspace", build_workspace) / "exp"


def warm_uv_cache(source: Path, tmp: Path) -> None:
    """Install the harness as the actions do, once, so that every act run after it can
    resolve from uv's cache alone (``UV_OFFLINE``) instead of asking the index again."""
    venv = tmp / "venv"
    env = act_run.host_env()
    subprocess.run(["uv", "venv", "--quiet", str(venv)], env=env, check=True, timeout=120)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-c",
            str(source / "constraints.txt"),
            f"{source}[github,llm]",
        ],
        env=env,
        check=True,
        timeout=600,
    )


def run_act(
    workspace: Path,
    event_name: str,
    workflow: str,
    event: object,
    tmp: Path,
    *,
    env: dict[str, str],
    secrets: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``act EVENT`` on one workflow of ``workspace`` (misc/act_run.py builds the command)."""
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event))
    command = act_run.act_command(
        event_name,
        workflow,
        event_path,
        tmp / "act-cache",
        env=env,
        secrets=secrets,
        variables=variables,
    )
    return subprocess.run(
        command,
        cwd=workspace,
        env={**act_run.host_env(), "UV_OFFLINE": "1"},  # the workspace fixture warmed the cache
        capture_output=True,
        text=True,
        timeout=600,
    )


class Act:
    def __init__(self, workspace: Path, home: Path, gh: GithubServer, claude: AnthropicServer):
        self.workspace, self.home, self.gh, self.claude = workspace, home, gh, claude
        self.prs = {branch: gh.add_pull(REPO, head=branch) for branch in PR_BRANCHES}
        self.anthropic_key = ANTHROPIC_KEY

    def without_claude(self) -> Act:
        """No Anthropic secret: the report says the analysis was skipped, and the job never
        imports the anthropic SDK (about 3 s in a fresh venv, uncompiled). For tests that
        are about delivery, not about Claude's answer."""
        self.anthropic_key = ""
        return self

    def dispatch(self, client_payload: object, tmp: Path) -> subprocess.CompletedProcess[str]:
        """The W&B webhook, as GitHub delivers it: a repository_dispatch."""
        event = {"action": "wandb_run_finished", "client_payload": client_payload}
        return self.act("repository_dispatch", "wandb-run-finished.yml", event, tmp)

    def act(
        self, event_name: str, workflow: str, event: object, tmp: Path
    ) -> subprocess.CompletedProcess[str]:
        return run_act(
            self.workspace,
            event_name,
            workflow,
            event,
            tmp,
            env={
                "HARNESS_BACKEND": "local",
                "HARNESS_HOME": str(self.home),
                "GITHUB_API_URL": self.gh.url,
                "ANTHROPIC_BASE_URL": self.claude.url,
                **FAST_WAITS,
            },
            secrets={"GITHUB_TOKEN": self.gh.token}
            | ({"ANTHROPIC_API_KEY": self.anthropic_key} if self.anthropic_key else {}),
            variables={"WANDB_PROJECT": "test"},
        )

    def bot_comments(self, branch: str) -> list[str]:
        return [c.body for c in self.gh.comments(REPO, self.prs[branch]) if c.user == ACTIONS_BOT]

    def writes(self) -> list[tuple[str, str, int]]:
        return [r for r in self.gh.requests if r[0] in ("POST", "PATCH")]


@pytest.fixture
def act(workspace: Path, ended_runs: tuple[Path, Path], tmp_path: Path) -> Iterator[Act]:
    home = fresh_store(ended_runs[1], tmp_path / "store")
    with GithubServer() as gh, AnthropicServer() as claude:
        gh.add_repo(REPO)
        claude.answer = "**What happened** the change helped; run more seeds to confirm."
        yield Act(workspace, home, gh, claude)
        assert gh.violations == []


TEMPLATE = json.loads((REPO_ROOT / "misc" / "wandb_webhook_payload.json").read_text())


def filled_template() -> dict[str, str]:
    """What W&B sends once it fills the template's variables."""
    values = {
        "${entity_name}": "team",
        "${project_name}": "test",
        "${event_type}": "RUN_STATE",
        "${event_author}": "alice",
    }
    return {k: values.get(v, v) for k, v in TEMPLATE["client_payload"].items()}


def test_the_webhook_ends_as_one_comment_per_pr(act: Act, tmp_path: Path) -> None:
    done = act.dispatch(filled_template(), tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for branch in PR_BRANCHES:
        [body] = act.bot_comments(branch)
        assert body.startswith(marker("summary", branch) + "\n")
        assert "run more seeds to confirm" in body  # Claude's analysis, via the secret
    [fails] = act.bot_comments("exp/fails")
    assert "ValueError: shapes do not match" in fails
    assert "no open PR: the report is below" in done.stdout  # the job summary, in act's log
    assert all(read_json(p).get("reported_at") for p in act.home.glob("runs/*/harness.json"))

    writes = act.writes()
    again = act.dispatch(filled_template(), tmp_path)  # W&B retries, or a second run ends
    assert again.returncode == 0, again.stdout[-4000:]
    assert act.writes() == writes


def test_the_polling_workflow_takes_the_same_path(act: Act, tmp_path: Path) -> None:
    done = act.without_claude().act("workflow_dispatch", "wandb-poll.yml", {"inputs": {}}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for branch in PR_BRANCHES:
        assert len(act.bot_comments(branch)) == 1
    assert all(read_json(p).get("reported_at") for p in act.home.glob("runs/*/harness.json"))


def test_a_named_run_refreshes_its_comment_in_place(act: Act, tmp_path: Path) -> None:
    assert act.without_claude().dispatch(filled_template(), tmp_path).returncode == 0
    [comment] = [c for c in act.gh.comments(REPO, act.prs["exp/nan"]) if c.user == ACTIONS_BOT]
    comment.body = marker("summary", "exp/nan") + "\nstale"
    run_id = next(
        p.parent.name
        for p in act.home.glob("runs/*/harness.json")
        if read_json(p).get("branch") == "exp/nan"
    )
    done = act.dispatch({**filled_template(), "run_id": run_id}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    [after] = act.gh.comments(REPO, act.prs["exp/nan"])
    assert after.id == comment.id and "stale" not in after.body and "#### 💥 " in after.body


@pytest.mark.parametrize(
    "failures",
    [[(502, {}), (502, {})], [(429, {"Retry-After": "1"})]],
    ids=["502-twice", "429-retry-after"],
)
def test_github_failures_still_give_exactly_one_comment(
    act: Act, tmp_path: Path, failures: list[tuple[int, dict[str, str]]]
) -> None:
    act.gh.fail_next[:] = failures
    done = act.without_claude().dispatch({**filled_template(), "branch": "exp/good"}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    assert len(act.bot_comments("exp/good")) == 1 and act.gh.fail_next == []
    # The payload named one branch; every branch's new runs were reported all the same.
    assert all(len(act.bot_comments(branch)) == 1 for branch in PR_BRANCHES)
    assert all(read_json(p).get("reported_at") for p in act.home.glob("runs/*/harness.json"))


REPORT_WORKFLOWS = ("wandb-run-finished.yml", "wandb-poll.yml")


def test_the_report_workflows_share_one_queue_and_report_every_new_run() -> None:
    """GitHub keeps one waiting run per concurrency group and cancels the others: the two
    report workflows share one group (a literal, never from the payload), so two runs never
    report the same run at once, and the run that goes reports every ended run not reported
    yet, whatever its payload named (the cancelled runs' too)."""
    for name in REPORT_WORKFLOWS:
        workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / name).read_text())
        assert workflow["concurrency"] == {"group": "harness-reports", "cancel-in-progress": False}
        [analyze] = [s for s in workflow["jobs"]["report"]["steps"] if s.get("id") == "analyze"]
        assert analyze["uses"] == "./actions/analyze"
        assert analyze["env"]["HARNESS_ANALYZE_ALL"] == "true"


@pytest.mark.parametrize(
    "payload",
    [
        {"project_name": "test", "branch": "exp/$(touch PWNED)"},
        {"project_name": "test; touch PWNED"},
        {"project_name": "test", "run_id": "`touch PWNED`"},
        {"project_name": "test", "branch": "../../etc"},
        {"project_name": "test", "extra": "x"},
        {"project_name": "test", "branch": "x" * 5000},
    ],
    ids=["subshell-branch", "semicolon-project", "backtick-run-id", "traversal", "extra", "huge"],
)
def test_hostile_payloads_post_nothing_and_run_nothing(
    act: Act, tmp_path: Path, payload: dict[str, str]
) -> None:
    done = act.dispatch(payload, tmp_path)
    assert done.returncode != 0
    assert "harness: error: event:" in done.stdout
    assert act.gh.requests == [] and act.claude.requests == []
    assert not list(act.workspace.rglob("PWNED")) and not (tmp_path / "PWNED").exists()
    assert not any(read_json(p).get("reported_at") for p in act.home.glob("runs/*/harness.json"))


TINY_TRAIN = """
from harness import tracking
run = tracking.init(config={"lr": 0.1})
for step in range(1, 4):
    run.log({"val/accuracy": 0.5 + step / 10}, step=step)
print("trained on", run.config["branch"])
run.finish()
"""


@pytest.fixture(scope="module")
def launch_workspace(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace with a tiny experiment (the digits one needs PyTorch) and exp/tiny."""
    root = tmp_path_factory.mktemp("launch") / "exp"
    shutil.copytree(workspace, root, symlinks=True)
    (root / "harness.yaml").write_text(
        "wandb: {project: test}\nlaunch: {entry_point: tiny_train.py}\n"
        "metrics:\n  - {name: val/accuracy, goal: maximize, primary: true}\n"
    )
    commit_file(root, "tiny_train.py", TINY_TRAIN)
    commit_file(root, "tiny_train.py", TINY_TRAIN + "# a change\n", branch="exp/tiny")
    git(root, "checkout", "--quiet", "main")
    return root


def test_a_push_launches_the_branch(launch_workspace: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    done = run_act(
        launch_workspace,
        "push",
        "launch.yml",
        {"ref": "refs/heads/exp/tiny"},
        tmp_path,
        env={"HARNESS_BACKEND": "local", "HARNESS_HOME": str(home)},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "trained on exp/tiny" in done.stdout
    assert "launched `exp/tiny` here" in done.stdout  # the job summary
    [run] = LocalStore(home).runs(branch="exp/tiny")
    assert run.state is RunState.FINISHED
    assert run.commit == git(launch_workspace, "rev-parse", "exp/tiny")


def test_a_push_of_an_invalid_branch_fails_cleanly(launch_workspace: Path, tmp_path: Path) -> None:
    home = tmp_path / "store"
    done = run_act(
        launch_workspace,
        "push",
        "launch.yml",
        {"ref": "refs/heads/exp/bad..name"},
        tmp_path,
        env={"HARNESS_BACKEND": "local", "HARNESS_HOME": str(home)},
    )
    assert done.returncode != 0
    assert "launch-job: error: invalid branch name 'exp/bad..name'" in done.stdout
    assert not (home / "runs").exists()


def test_compare_on_demand_puts_the_table_in_the_summary_and_on_the_prs(
    act: Act, tmp_path: Path
) -> None:
    inputs = {"branches": "exp/good,exp/fails", "comment": "true"}  # GitHub sends strings
    done = act.act("workflow_dispatch", "compare.yml", {"inputs": inputs}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Summary - <!-- harness:compare -->" in done.stdout  # the job summary has the table
    assert "Winner: exp/good beats main" in done.stdout
    for branch in ("exp/good", "exp/fails"):
        [body] = act.bot_comments(branch)
        assert body.startswith(marker("compare", branch) + "\n") and "exp/fails" in body
    assert act.bot_comments("exp/nan") == []  # not compared, not touched
    again = act.act("workflow_dispatch", "compare.yml", {"inputs": inputs}, tmp_path)
    assert again.returncode == 0 and len(act.bot_comments("exp/good")) == 1
