"""harness setup-automation: the real ``wandb`` client creates the run-ended automation on a
local W&B GraphQL server, through the real console script.

Assertions are on what the server stored, i.e. on what the client really sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import BIN, REPO_ROOT, make_repo, offline_env, wandb_env
from .schemas import assert_valid
from .servers.wandb_server import PROJECT_ID, WandbServer

pytestmark = pytest.mark.slow  # the real wandb client and its wandb-core, per command

TEMPLATE = REPO_ROOT / "misc" / "wandb_webhook_payload.json"
HOOK_URL = "https://api.github.com/repos/o/r/dispatches"
# What the client sends for a run-state filter on finished or failed runs of the project.
EVENT_FILTER = {"run_filter": '{"$and":[]}', "run_state_filter": {"states": ["FAILED", "FINISHED"]}}

Served = tuple[Path, WandbServer, dict[str, str]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    (repo / "harness.yaml").write_text("wandb: {project: test}\n")
    (repo / "misc").mkdir()
    shutil.copy(TEMPLATE, repo / "misc" / TEMPLATE.name)
    return repo


@pytest.fixture
def served(request: pytest.FixtureRequest, repo: Path, tmp_path: Path) -> Iterator[Served]:
    """A W&B server with a Slack and a webhook integration. A ``legacy-server`` (the
    parameter, when given) is older than W&B 0.83: the client asks it for automations
    project by project."""
    with WandbServer(entity="team", project="test") as server:
        if getattr(request, "param", None) == "legacy-server":
            server.features = {}
        server.add_slack("alerts")
        server.add_webhook("github-dispatch", HOOK_URL)
        env = wandb_env(server.url, server.api_key, tmp_path)
        yield repo, server, env
        assert server.unknown == [], "the client sent operations the server does not know"
        assert server.invalid == [], "the client sent queries W&B would refuse"


def setup(served: Served, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    repo, _, base = served
    return subprocess.run(
        [str(BIN / "harness"), "setup-automation", *args],
        cwd=repo,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def created(server: WandbServer) -> int:
    return server.operations.count("CreateAutomation")


@pytest.mark.parametrize("served", ["entity-query", "legacy-server"], indirect=True)
def test_creates_one_automation_and_a_second_run_changes_nothing(served: Served) -> None:
    _, server, _ = served
    hook = server.integrations[1]

    first = setup(served, "--webhook", "github-dispatch")

    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        "created W&B automation 'harness-run-finished' (id VHJpZ2dlcjox) in team/test: a run "
        "that finishes or fails sends misc/wandb_webhook_payload.json through webhook "
        "'github-dispatch'\n"
    )
    [saved] = server.automations
    assert saved["name"] == "harness-run-finished" and saved["enabled"] is True
    assert saved["scope"] == {"__typename": "Project", "id": PROJECT_ID, "name": "test"}
    assert saved["event"]["eventType"] == "RUN_STATE"
    assert json.loads(saved["event"]["filter"]) == EVENT_FILTER
    assert saved["action"]["integration"]["id"] == hook["id"]
    assert saved["action"]["integration"]["name"] == "github-dispatch"
    assert json.loads(saved["action"]["requestPayload"]) == json.loads(TEMPLATE.read_text())
    assert "finishes or fails" in saved["description"]
    [sent] = [v["input"] for name, v in server.requests if name == "CreateAutomation"]
    assert sent["scopeType"] == "PROJECT" and sent["triggeredActionType"] == "GENERIC_WEBHOOK"

    again = setup(served, "--webhook", "github-dispatch", "--format", "json")

    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert_valid("automation", report)
    assert report["status"] == "exists" and report["id"] == saved["id"]
    assert report["differences"] == []
    assert len(server.automations) == 1 and created(server) == 1


@pytest.mark.parametrize("served", ["entity-query", "legacy-server"], indirect=True)
def test_the_operations_are_the_ones_wandb_sends(served: Served) -> None:
    _, server, _ = served
    assert setup(served, "--webhook", "github-dispatch").returncode == 0
    listing = "GetEntityAutomations" if server.features else "GetEntityAutomationsLegacy"
    assert set(server.operations) == {
        "Viewer",  # the key, checked when wandb.Api is built
        "GetProject",  # the project's id: the automation's scope
        "IntegrationsByEntity",  # api.webhook_integrations(entity)
        "ServerFeaturesQuery",  # can automations be queried by entity?
        listing,  # api.automations(entity, name=…)
        "CreateAutomation",  # api.create_automation(event >> action, …)
    }


def test_an_existing_automation_is_reported_with_its_differences_and_kept(
    served: Served,
) -> None:
    repo, server, _ = served
    assert setup(served, "--webhook", "github-dispatch").returncode == 0
    before = json.loads(json.dumps(server.automations))
    template = repo / "misc" / TEMPLATE.name
    edited = json.loads(template.read_text())
    del edited["client_payload"]["event_author"]
    template.write_text(json.dumps(edited))

    again = setup(served, "--webhook", "github-dispatch")

    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        "W&B automation 'harness-run-finished' (id VHJpZ2dlcjox) already exists in team/test: "
        "nothing changed (it differs in: payload; delete it in W&B, or pass another --name, "
        "to make a new one)\n"
    )
    assert server.automations == before and created(server) == 1


def test_an_automation_edited_in_wandb_is_reported_and_kept(served: Served) -> None:
    _, server, _ = served
    assert setup(served, "--webhook", "github-dispatch").returncode == 0
    other = server.add_webhook("other-hook", HOOK_URL)
    saved = server.automations[0]
    states = {"run_filter": '{"$and":[]}', "run_state_filter": {"states": ["FINISHED"]}}
    saved["event"]["filter"] = json.dumps(states)  # someone changed it in W&B's UI
    saved["action"]["integration"] = {k: other[k] for k in saved["action"]["integration"]}
    saved["enabled"] = False

    again = setup(served, "--webhook", "github-dispatch", "--format", "json")

    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["differences"] == ["states finished", "webhook", "disabled"]
    assert server.automations == [saved] and created(server) == 1


def test_another_name_makes_another_automation(served: Served) -> None:
    _, server, _ = served
    assert setup(served, "--webhook", "github-dispatch").returncode == 0
    other = setup(served, "--webhook", "github-dispatch", "--name", "harness second")
    assert other.returncode == 0, other.stderr
    assert [a["name"] for a in server.automations] == ["harness-run-finished", "harness second"]


def test_an_unknown_webhook_lists_the_known_ones(served: Served) -> None:
    _, server, _ = served
    server.add_webhook("another-hook", HOOK_URL)

    done = setup(served, "--webhook", "nope")

    assert done.returncode == 2, done.stdout
    assert done.stderr == (
        "harness: error: W&B: no webhook named 'nope' in entity team "
        "(it has 'another-hook', 'github-dispatch')\n"
    )
    assert done.stdout == "" and server.automations == [] and created(server) == 0


def test_a_name_taken_in_another_project_is_refused(served: Served) -> None:
    _, server, _ = served
    assert setup(served, "--webhook", "github-dispatch").returncode == 0
    server.automations[0]["scope"] = {"__typename": "Project", "id": "UHJvamVjdDoy", "name": "x"}

    done = setup(served, "--webhook", "github-dispatch")

    assert done.returncode == 2, done.stdout
    assert done.stderr == (
        "harness: error: W&B: automation name 'harness-run-finished' is taken in entity team "
        "by one for 'x', not project 'test'; pass another --name\n"
    )
    assert len(server.automations) == 1 and created(server) == 1


def test_dry_run_needs_no_key_and_no_server(repo: Path) -> None:
    env = offline_env(WANDB_ENTITY="team", WANDB_BASE_URL="http://127.0.0.1:9")
    served: Served = (repo, WandbServer(), env)  # never started: nothing may be contacted

    text = setup(served, "--webhook", "github-dispatch", "--dry-run")
    as_json = setup(served, "--webhook", "github-dispatch", "--dry-run", "--format", "json")

    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[:4] == [
        "would create W&B automation 'harness-run-finished' (dry run: W&B was not contacted)",
        "  scope:   project team/test",
        "  event:   RUN_STATE: a run's state becomes finished or failed (crashed counts as failed)",
        "  action:  webhook 'github-dispatch', payload misc/wandb_webhook_payload.json:",
    ]
    assert '"event_type": "wandb_run_finished"' in text.stdout
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert_valid("automation", plan)
    assert {k: plan[k] for k in ("status", "id", "name", "entity", "project", "event")} == {
        "status": "would_create",
        "id": None,
        "name": "harness-run-finished",
        "entity": "team",
        "project": "test",
        "event": "RUN_STATE",
    }
    assert plan["states"] == ["finished", "failed"]
    assert plan["webhook"] == {"name": "github-dispatch", "id": None}
    assert plan["payload"] == json.loads(TEMPLATE.read_text())


def _payload(**changes: Any) -> str:
    data = json.loads(TEMPLATE.read_text())
    for key, value in changes.items():
        if key.startswith("client_payload."):
            data["client_payload"][key.removeprefix("client_payload.")] = value
        elif value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "misc/wandb_webhook_payload.json: no such file"),
        ('{"event_type": ', "misc/wandb_webhook_payload.json: not valid JSON (line 1, column 16)"),
        ("[]", "expected a JSON object with event_type and client_payload"),
        (_payload(client_payload=None), "client_payload is missing"),
        (_payload(event_type="other"), "event_type must be 'wandb_run_finished'"),
        (_payload(ref="main"), "unknown key 'ref' (repository_dispatch takes only"),
        (
            _payload(**{"client_payload.run_id": "${run_id}"}),
            "client_payload.run_id uses ${run_id}",
        ),
        (
            _payload(**{"client_payload.token": "x"}),
            "harness analyze would refuse what W&B sends: event: client_payload has unknown "
            "key 'token'",
        ),
        (
            _payload(**{"client_payload.project_name": ""}),
            "harness analyze would refuse what W&B sends: event: client_payload.project_name "
            "is missing",
        ),
    ],
)
def test_a_broken_template_is_one_line_and_exit_2(
    served: Served, content: str | None, message: str
) -> None:
    repo, server, _ = served
    template = repo / "misc" / TEMPLATE.name
    if content is None:
        template.unlink()
    else:
        template.write_text(content)

    done = setup(served, "--webhook", "github-dispatch")

    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(f"harness: error: {template}"), done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert server.requests == []  # checked before W&B is contacted


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WANDB_API_KEY": ""}, "harness: error: W&B: no API key (set WANDB_API_KEY"),
        ({"WANDB_API_KEY": "z" * 40}, "harness: error: W&B refused the API key at http"),
        (
            {"WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB__GRAPHQL_RETRY_MAX": "1"},
            "harness: error: cannot reach W&B at http://127.0.0.1:9: ",
        ),
        ({"WANDB_PROJECT": "nowhere"}, "harness: error: W&B: no project team/nowhere (its first"),
        ({"WANDB_ENTITY": "others"}, "harness: error: W&B: no project others/test"),
    ],
)
def test_wandb_problems_are_one_line_and_exit_2(
    served: Served, env: dict[str, str], message: str
) -> None:
    _, server, _ = served
    done = setup(served, "--webhook", "github-dispatch", **env)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == "" and server.automations == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook", "a/b"], "harness: error: --webhook: not a W&B webhook name"),
        (["--webhook", "h", "--name", " x"], "harness: error: --name: not a W&B automation name"),
    ],
)
def test_bad_names_are_refused_before_anything_else(
    repo: Path, args: list[str], message: str
) -> None:
    done = setup((repo, WandbServer(), offline_env()), *args, "--dry-run")
    assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
