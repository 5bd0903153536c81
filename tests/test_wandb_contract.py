"""The W&B contract: every query harness writes asks only for what W&B's own queries ask for.

W&B's GraphQL schema is not public. ``tests/wandb_schema/slice.json`` is the part of it
W&B's own code shows (the installed wandb's Python queries and wandb-core's, plus the
Launch skill's): each field and argument on each path. The test W&B server refuses
anything outside it, as W&B would, so the real client raises.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.launchers import wandb_queue

from .helpers import REPO_ROOT, wandb_env
from .servers.wandb_server import SCHEMA, WandbServer
from .wandb_schema.extract import Document, Evaluator, build_slice, dumps, python_documents
from .wandb_schema.selections import SLICE, SchemaSlice

# How harness read a queue before it kept to W&B's own queries: W&B pages no queue's items
# with ``after:``, and selects neither ``pageInfo`` nor ``runSpec`` on a listed item.
OLD_ITEMS_QUERY = """
query HarnessQueueItems($entityName: String!, $projectName: String!, $runQueue: String!,
                        $cursor: String) {
    project(name: $projectName, entityName: $entityName) {
        runQueue(name: $runQueue) {
            runQueueItems(first: 100, after: $cursor) {
                pageInfo { hasNextPage endCursor }
                edges { node { id state associatedRunId runSpec } }
            }
        }
    }
}
"""


def harness_queries() -> list[Document]:
    """Every GraphQL string in harness/, found as the slice's extractor finds W&B's."""
    found = python_documents(REPO_ROOT, Evaluator(REPO_ROOT), package="harness")
    return [d for d in found if isinstance(d, Document)]


HARNESS_QUERIES = harness_queries()


def test_the_queue_queries_are_among_those_checked() -> None:
    texts = {d.text for d in HARNESS_QUERIES}
    for query in (wandb_queue.QUEUE_ID_QUERY, wandb_queue.ITEMS_QUERY, wandb_queue.ITEM_QUERY):
        assert query in texts


@pytest.mark.parametrize("query", HARNESS_QUERIES, ids=lambda d: d.where)
def test_each_query_harness_writes_is_one_wandb_would_answer(query: Document) -> None:
    assert SCHEMA.problems(query.text) == ()


def test_the_old_paginated_queue_query_is_refused_by_name() -> None:
    problems = SCHEMA.problems(OLD_ITEMS_QUERY)
    assert problems == (
        'Unknown argument "after" on field "runQueueItems" at path query.project.runQueue: '
        "no query W&B wrote passes it",
        'Cannot query field "pageInfo" on path query.project.runQueue.runQueueItems: '
        "no query W&B wrote selects it there",
        'Cannot query field "runSpec" on path query.project.runQueue.runQueueItems.edges.node: '
        "no query W&B wrote selects it there",
    )


def test_the_slice_is_what_the_installed_wandb_gives() -> None:
    """A wandb upgrade that changes W&B's queries shows up here: regenerate, read the diff."""
    fresh = build_slice()
    committed = json.loads(SLICE.read_text(encoding="utf-8"))
    if fresh != committed:
        changed = sorted(
            path
            for path in set(fresh["paths"]) | set(committed["paths"])
            if fresh["paths"].get(path) != committed["paths"].get(path)
        )
        pytest.fail(
            f"slice.json is stale (wandb {committed['wandb']} → {fresh['wandb']}); paths that "
            f"changed: {changed[:10]}; run `.venv/bin/python -m tests.wandb_schema.extract`"
        )
    assert dumps(fresh) == SLICE.read_text(encoding="utf-8")  # byte for byte: as written


def test_the_slice_holds_only_what_wandb_wrote() -> None:
    data = json.loads(SLICE.read_text(encoding="utf-8"))
    sources = {
        source
        for fields in data["paths"].values()
        for entry in fields.values()
        for source in [
            *entry["from"],
            *(s for found in entry["on"].values() for s in found),
            *(s for found in entry["arguments"].values() for s in found),
        ]
    }
    assert sources == set(data["operations"])
    # the wheel's Python files, wandb-core, or W&B's skills repository: never harness/
    written_by_wandb = re.compile(r"wandb/(\S+\.py|bin/wandb-core|skills: \S+\.py), \w+")
    assert [s for s in sources if not written_by_wandb.fullmatch(s)] == []
    core = [s for s in sources if s.startswith("wandb/bin/wandb-core, ")]
    assert "wandb/bin/wandb-core, UpsertBucket" in core
    assert data["counts"]["operations"] == len(data["operations"])


SMALL = SchemaSlice(
    {
        "paths": {
            "query": {"project": {"from": ["w"], "on": {}, "arguments": {"name": ["w"]}}},
            "query.project": {
                "run": {"from": ["w"], "on": {}, "arguments": {"name": ["w"]}},
            },
            "query.project.run": {
                "id": {"from": ["w"], "on": {}, "arguments": {}},
                "stopped": {"from": [], "on": {"Run": ["w"]}, "arguments": {}},
            },
        }
    }
)


@pytest.mark.parametrize(
    ("query", "problems"),
    [
        ('{ project(name: "p") { run(name: "r") { id __typename } } }', ()),
        ('{ project(name: "p") { run(name: "r") { ... on Run { id stopped } } } }', ()),
        (
            'query Q { project(name: "p") { run(name: "r") { ...F } } } '
            "fragment F on Run { id ... on Run { stopped } }",
            (),
        ),
        (
            '{ project(name: "p") { run(name: "r") { stopped } } }',
            (
                'Cannot query field "stopped" on path query.project.run: '
                "no query W&B wrote selects it there",
            ),
        ),
        (
            '{ project(name: "p") { run(name: "r") { ... on Sweep { stopped } } } }',
            (
                'Cannot query field "stopped" on path query.project.run inside ... on Sweep: '
                "no query W&B wrote selects it there",
            ),
        ),
        (
            '{ project(name: "p", entityName: "e") { runs { id } } }',
            (
                'Unknown argument "entityName" on field "project" at path query: '
                "no query W&B wrote passes it",
                'Cannot query field "runs" on path query.project: '
                "no query W&B wrote selects it there",
            ),
        ),
        ("query Q { project { ...Missing } }", ('Unknown fragment "Missing" in Q.',)),
        ("query Q { project {", ("Syntax Error: Expected Name, found <EOF>.",)),
    ],
)
def test_a_query_is_checked_field_by_field_on_its_path(
    query: str, problems: tuple[str, ...]
) -> None:
    assert SMALL.problems(query) == problems


def post(server: WandbServer, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    key = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    request = urllib.request.Request(
        f"{server.url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"content-type": "application/json", "authorization": f"Basic {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body: dict[str, Any] = json.load(answer)
        return body


QUEUE = {"entityName": "team", "projectName": "model-registry", "runQueue": "gpus"}


def test_the_server_answers_a_query_wandb_would_refuse_with_graphql_errors() -> None:
    with WandbServer(entity="team") as server:
        server.add_queue("gpus")
        answer = post(server, OLD_ITEMS_QUERY, QUEUE)
        assert answer["data"] is None
        assert [e["message"] for e in answer["errors"]] == list(SCHEMA.problems(OLD_ITEMS_QUERY))
        assert server.invalid == [f"HarnessQueueItems: {e['message']}" for e in answer["errors"]]
        assert post(server, wandb_queue.ITEMS_QUERY, QUEUE) == {
            "data": {"project": {"runQueue": {"runQueueItems": {"edges": []}}}}
        }
        assert server.unknown == []


CLIENT = """
import sys
import wandb

api = wandb.Api(timeout=20)
variables = {"entityName": "team", "projectName": "model-registry", "runQueue": "gpus"}
try:
    api._service_api.execute_graphql(sys.argv[1], variables)  # how harness sends its queries
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(3)
print("answered")
"""


@pytest.mark.slow  # the real wandb client and its wandb-core
def test_the_real_client_raises_on_a_query_wandb_would_refuse(tmp_path: Path) -> None:
    with WandbServer(entity="team") as server:
        server.add_queue("gpus")
        env = wandb_env(server.url, server.api_key, tmp_path)
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, OLD_ITEMS_QUERY],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert 'Unknown argument "after" on field "runQueueItems"' in done.stdout
        assert server.invalid  # refused by the slice, never by an operation handler
        assert server.unknown == []
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, wandb_queue.ITEMS_QUERY],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout.strip() == "answered", done.stdout + done.stderr
