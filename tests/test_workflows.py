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

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.manifest import read_json
from harness.report import marker

from .conftest import REPO_ROOT, fresh_store, git
from .servers.anthropic_server import AnthropicServer
from .servers.github_server import ACTIONS_BOT, GithubServer

pytestmark = pytest.mark.slow

REPO = "octo/exp"
PR_BRANCHES = ("exp/good", "exp/fails", "exp/nan")
ANTHROPIC_KEY = "sk-ant-test-key-0123456789"  # act masks secrets in its log: keep them long
STUB = REPO_ROOT / "tests" / "act_stubs" / "noop"
PASSED_THROUGH = (  # how this machine reaches package registries (TLS roots, proxies)
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_CACHE_DIR",
)


def pinned_actions() -> list[str]:
    """Every ``owner/name@sha`` the workflows and actions use (all stubbed under act)."""
    found = set()
    files = [*(REPO_ROOT / ".github" / "workflows").glob("*.yml")]
    files += (REPO_ROOT / "actions").glob("*/action.yml")
    for path in files:
        text = yaml.safe_load(path.read_text())
        jobs = text.get("jobs", {}).values() if "jobs" in text else [text["runs"]]
        for job in jobs:
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses and not uses.startswith("./"):
                    found.add(uses)
    return sorted(found)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this project's files, with a GitHub remote."""
    root = tmp_path_factory.mktemp("workspace") / "exp"
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
    return root


class Act:
    def __init__(self, workspace: Path, home: Path, gh: GithubServer, claude: AnthropicServer):
        self.workspace, self.home, self.gh, self.claude = workspace, home, gh, claude
        self.prs = {branch: gh.add_pull(REPO, head=branch) for branch in PR_BRANCHES}

    def dispatch(self, client_payload: object, tmp: Path) -> subprocess.CompletedProcess[str]:
        """The W&B webhook, as GitHub delivers it: a repository_dispatch."""
        event = {"action": "wandb_run_finished", "client_payload": client_payload}
        return self.act("repository_dispatch", "wandb-run-finished.yml", event, tmp)

    def act(
        self, event_name: str, workflow: str, event: object, tmp: Path
    ) -> subprocess.CompletedProcess[str]:
        event_path = tmp / "event.json"
        event_path.write_text(json.dumps(event))
        stubs = [
            arg for uses in pinned_actions() for arg in ("--local-repository", f"{uses}={STUB}")
        ]
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"}
        env.update({k: os.environ[k] for k in ("HOME", *PASSED_THROUGH) if k in os.environ})
        command = [
            str(Path(sys.executable).parent / "act"),
            event_name,
            "--eventpath",
            str(event_path),
            "--workflows",
            f".github/workflows/{workflow}",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",
            "--action-cache-path",
            str(tmp / "act-cache"),
            *stubs,
            "--env",
            "HARNESS_BACKEND=local",
            "--env",
            f"HARNESS_HOME={self.home}",
            "--env",
            f"GITHUB_API_URL={self.gh.url}",
            "--env",
            f"ANTHROPIC_BASE_URL={self.claude.url}",
            "-s",
            f"GITHUB_TOKEN={self.gh.token}",
            "-s",
            f"ANTHROPIC_API_KEY={ANTHROPIC_KEY}",
            "--var",
            "WANDB_PROJECT=test",
        ]
        return subprocess.run(
            command,
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
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
    done = act.act("workflow_dispatch", "wandb-poll.yml", {"inputs": {}}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for branch in PR_BRANCHES:
        assert len(act.bot_comments(branch)) == 1
    assert all(read_json(p).get("reported_at") for p in act.home.glob("runs/*/harness.json"))


def test_a_named_run_refreshes_its_comment_in_place(act: Act, tmp_path: Path) -> None:
    assert act.dispatch(filled_template(), tmp_path).returncode == 0
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
    assert after.id == comment.id and "stale" not in after.body and "Why `" in after.body


@pytest.mark.parametrize(
    "failures",
    [[(502, {}), (502, {})], [(429, {"Retry-After": "1"})]],
    ids=["502-twice", "429-retry-after"],
)
def test_github_failures_still_give_exactly_one_comment(
    act: Act, tmp_path: Path, failures: list[tuple[int, dict[str, str]]]
) -> None:
    act.gh.fail_next[:] = failures
    done = act.dispatch({**filled_template(), "branch": "exp/good"}, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    assert len(act.bot_comments("exp/good")) == 1 and act.gh.fail_next == []


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
