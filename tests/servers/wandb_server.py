"""A small W&B GraphQL server for tests: the operations ``wandb.Api`` (0.31) sends.

The real ``wandb`` client talks to it through ``WANDB_BASE_URL``. It holds one project of
runs (config, summary, tags, history rows, console log, files) and answers:

- ``Viewer`` (the client checks the key when ``wandb.Api`` is built), ``GetDefaultEntity``;
- ``Runs`` (MongoDB-style ``filters``, ``order``, cursor pagination) and ``Run``;
- ``RunSampledHistory`` (``run.history(keys=…, samples=N)``);
- the console-log tail that ``run.console_logs(last=N)`` asks wandb-core for;
- ``UpsertBucket`` (``run.update()``: tags, notes, config);
- automations: ``ServerFeaturesQuery`` (the client asks which automation queries the
  server has), ``GetProject`` (the project's id, the automation's scope),
  ``IntegrationsByEntity`` (``api.webhook_integrations``), ``GetEntityAutomations`` or,
  for a server without ``QUERY_AUTOMATIONS_ON_ENTITY``, ``GetEntityAutomationsLegacy``
  (``api.automations``), and ``CreateAutomation`` (``api.create_automation``);
- an online ``wandb.init`` and ``run.finish``: ``UpsertBucket`` without an id (creates the
  run), ``RunResumeStatus``, ``CreateRunFiles`` and the uploads (PUT to the URLs it hands
  out), the ``file_stream`` endpoint (accepted, not kept); ``DeleteRun`` (``run.delete()``);
- artifacts (a launch job is one of type "job"): ``CreateArtifact`` (the Python client's
  variables and wandb-core's ``input``), ``CreateArtifactManifest``,
  ``CreateArtifactFiles``, ``CommitArtifact`` (refused until every file is uploaded),
  ``ArtifactByID``, ``ArtifactType``, ``ArtifactMembershipByName`` (``api.artifact(name)``);
- W&B Launch run queues (``add_queue``), kept in the entity's ``model-registry`` project
  as W&B keeps them: ``pushToRunQueueByName`` (``launch_add``), the client's fallback
  ``ProjectRunQueues`` + ``pushToRunQueue``, ``fetchRunQueuesFromProject`` +
  ``DeleteFromRunQueue`` (``QueuedRun.delete``), and harness's reads of the items
  (``HarnessQueueItems``, then ``HarnessQueueItem`` for one item's run spec and error).
  ``claim`` and ``fail`` do what an agent does to an item it starts or cannot start.

Every query is first checked against the slice of W&B's schema rebuilt from W&B's own
queries (``tests/wandb_schema/slice.json``): a field or an argument no query W&B wrote uses
on that path is answered with a GraphQL error, as W&B answers it, and kept in ``invalid``.
Only then is the operation name looked at: ``fail_after`` injects GraphQL errors by
operation (after N normal answers); an operation not served here is answered with a
GraphQL error and kept in ``unknown``, so a test sees a client that sent something new.
Run it by hand with ``python -m tests.servers.wandb_server HARNESS_HOME`` to serve the runs
of a local store (see ``runs_from_local_store``).
"""

from __future__ import annotations

import base64
import json
import math
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ..wandb_schema.selections import SchemaSlice
from .base import LocalServer, QuietHandler

__all__ = ["FakeRun", "WandbServer", "runs_from_local_store", "serve"]

OPERATION = re.compile(r"\b(query|mutation)\s+(\w+)")
PROJECT_ID = "UHJvamVjdDox"  # the project's GraphQL id ("Project:1")
UPLOADS = "/storage/"  # upload URLs the server hands out start with this path
MAX_LOG_LINES = 10_000  # W&B caps one console-log request too
SCHEMA = SchemaSlice.load()  # read once: every server checks queries against the same slice


@dataclass
class FakeRun:
    """One run as the server stores it. ``name`` is the run id W&B shows in URLs."""

    name: str
    state: str = "finished"
    config: dict[str, Any] = field(default_factory=dict)  # plain values; served as {"value": v}
    summary: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    display_name: str | None = None
    created_at: str = "2026-01-01T00:00:00"
    heartbeat_at: str = "2026-01-01T00:00:00"
    history: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    notes: str | None = None
    job_type: str | None = None  # wandb.init(job_type=…); runs created by a client set it

    @property
    def storage_id(self) -> str:
        return f"UnVuOnYxOn{self.name}"

    def node(self, project_id: str) -> dict[str, Any]:
        keys = sorted({k for row in self.history for k in row if not k.startswith("_")})
        return {
            "projectId": project_id,
            "id": self.storage_id,
            "tags": list(self.tags),
            "name": self.name,
            "displayName": self.display_name or self.name,
            "sweepName": None,
            "state": self.state,
            "config": json.dumps({k: {"value": v, "desc": None} for k, v in self.config.items()}),
            "group": self.group,
            "jobType": self.job_type,
            "commit": self.config.get("commit"),
            "readOnly": False,
            "createdAt": self.created_at,
            "heartbeatAt": self.heartbeat_at,
            "description": self.notes,
            "notes": self.notes,
            "systemMetrics": "{}",
            "summaryMetrics": json.dumps(self.summary),
            "historyLineCount": len(self.history),
            "user": {"name": "harness-bot", "username": "harness-bot"},
            "historyKeys": {"lastStep": len(self.history) - 1, "keys": {k: {} for k in keys}},
        }

    def field_value(self, path: str) -> Any:
        """The value a filter path names (``config.x``, ``summary_metrics.y``, ``state``…)."""
        head, _, rest = path.partition(".")
        if head == "config":
            key = rest.removesuffix(".value")
            return self.config.get(key)
        if head in ("summary_metrics", "summaryMetrics"):
            return self.summary.get(rest)
        simple = {
            "state": self.state,
            "tags": self.tags,
            "name": self.name,
            "group": self.group,
            "displayName": self.display_name or self.name,
            "display_name": self.display_name or self.name,
            "createdAt": self.created_at,
            "created_at": self.created_at,
        }
        if path not in simple:
            raise ValueError(f"filter on an unsupported field {path!r}")
        return simple[path]


def _compare(op: str, have: Any, want: Any) -> bool:
    values = have if isinstance(have, list) else [have]
    if op == "$eq":
        return want in values
    if op == "$ne":
        return want not in values
    if op == "$in":
        return any(v in want for v in values)
    if op == "$nin":
        return not any(v in want for v in values)
    if op == "$exists":
        return (have is not None) == bool(want)
    if op == "$regex":
        return any(isinstance(v, str) and re.search(want, v) for v in values)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if have is None:
            return False
        return {
            "$gt": have > want,
            "$gte": have >= want,
            "$lt": have < want,
            "$lte": have <= want,
        }[op]
    raise ValueError(f"unsupported filter operator {op!r}")


def matches(run: FakeRun, filters: Any) -> bool:
    """MongoDB-style filters, as W&B documents them for ``api.runs``."""
    if not isinstance(filters, dict):
        raise ValueError("filters must be an object")
    for key, want in filters.items():
        if key == "$and":
            ok = all(matches(run, part) for part in want)
        elif key == "$or":
            ok = any(matches(run, part) for part in want)
        elif key == "$nor":
            ok = not any(matches(run, part) for part in want)
        elif isinstance(want, dict) and want and all(k.startswith("$") for k in want):
            have = run.field_value(key)
            ok = all(_compare(op, have, arg) for op, arg in want.items())
        else:
            ok = _compare("$eq", run.field_value(key), want)
        if not ok:
            return False
    return True


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def sample_history(run: FakeRun, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows holding every requested key, evenly thinned to at most ``samples``."""
    keys = [k for k in spec.get("keys", []) if isinstance(k, str)]
    samples = int(spec.get("samples", 500))
    rows = [
        {k: row[k] for k in keys}
        for row in run.history
        if all(k in row for k in keys if k != "_step")
    ]
    if len(rows) > samples > 0:
        stride = len(rows) / samples
        rows = [rows[int(i * stride)] for i in range(samples - 1)] + [rows[-1]]
    return rows


class WandbServer(LocalServer):
    """Serves one ``entity/project`` on a free localhost port, in a background thread."""

    def __init__(self, entity: str = "harness-team", project: str = "harness-digits") -> None:
        super().__init__()
        self.entity = entity
        self.project = project
        self.runs: dict[str, FakeRun] = {}
        self.api_key = "k" * 40  # what clients must send, as HTTP basic auth "api:<key>"
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (operation, variables)
        self.unknown: list[str] = []  # operations sent that the server does not serve
        self.invalid: list[str] = []  # "operation: why" for queries W&B would refuse
        self.schema = SCHEMA
        # HTTP statuses to answer the next requests with. A 429 says Retry-After: 1; a 5xx
        # says Retry-After: 0, as a load balancer may: wandb-core honours it, and without it
        # waits about 2 s a retry whatever WANDB__GRAPHQL_RETRY_WAIT_* say (0.31).
        self.fail_next: list[int] = []
        # Automations. The entity's integrations and its saved automations ("triggers"), as
        # W&B answers them; the server features the client asks about before some queries.
        self.integrations: list[dict[str, Any]] = []
        self.automations: list[dict[str, Any]] = []
        self.features: dict[str, bool] = {"QUERY_AUTOMATIONS_ON_ENTITY": True}
        # Launch. Runs a client creates (wandb.init) land in ``runs`` like the others;
        # ``deleted_runs`` names those deleted since. ``artifacts`` are the versions logged
        # (jobs among them), ``uploads`` the files uploaded to them (by upload URL path).
        self.deleted_runs: list[str] = []
        self.artifacts: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}
        # Run queues, as W&B keeps them in the entity's "model-registry" project: name →
        # {"id", "name", "access", "items": [{"id", "state", "associatedRunId", "runSpec"}]}.
        self.queues: dict[str, dict[str, Any]] = {}
        self.run_spec_as = "object"  # how an item's runSpec (a JSON scalar) is served
        self.items_pushed = 0  # item ids count up: a deleted item's id is never reused
        # Injected failures by operation: answered normally this many more times, then
        # refused with a GraphQL error (e.g. {"pushToRunQueueByName": 1}: the second fails).
        self.fail_after: dict[str, int] = {}
        self.lock = threading.Lock()

    # -- data --------------------------------------------------------------------------
    def add(self, run: FakeRun) -> FakeRun:
        self.runs[run.name] = run
        return run

    def add_webhook(self, name: str, url: str) -> dict[str, Any]:
        """A webhook integration of the entity (Team settings → Webhooks in W&B's UI)."""
        hook = {
            "__typename": "GenericWebhookIntegration",
            "id": _gql_id("Integration", len(self.integrations) + 1),
            "name": name,
            "urlEndpoint": url,
        }
        self.integrations.append(hook)
        return hook

    def add_slack(self, channel: str) -> dict[str, Any]:
        """A Slack integration: listed with the webhooks, never one of them."""
        slack = {
            "__typename": "SlackIntegration",
            "id": _gql_id("Integration", len(self.integrations) + 1),
            "teamName": "harness-team",
            "channelName": channel,
        }
        self.integrations.append(slack)
        return slack

    def add_queue(self, name: str) -> dict[str, Any]:
        """A run queue of the entity (the Launch app's "Create queue")."""
        queue = {
            "id": _gql_id("RunQueue", len(self.queues) + 1),
            "name": name,
            "access": "PROJECT",
            "createdBy": 1,
            "items": [],
        }
        self.queues[name] = queue
        return queue

    def claim(self, item_id: str, run_id: str) -> None:
        """What an agent does to an item it starts: popped, acked with its run."""
        item = next(i for q in self.queues.values() for i in q["items"] if i["id"] == item_id)
        item.update(state="CLAIMED", associatedRunId=run_id)

    def fail(self, item_id: str, message: str, stage: str = "run") -> None:
        """What an agent does to an item it could not start (``failRunQueueItem``)."""
        item = next(i for q in self.queues.values() for i in q["items"] if i["id"] == item_id)
        item.update(state="FAILED", error={"message": message, "stage": stage})

    @property
    def queued(self) -> list[dict[str, Any]]:
        """Every item of every queue, in order."""
        return [item for queue in self.queues.values() for item in queue["items"]]

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.requests]

    def authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"api:{self.api_key}".encode()).decode()
        return header == f"Basic {expected}"

    # -- lifecycle ---------------------------------------------------------------------
    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if self.path.startswith("/sdk/otel/"):  # wandb-core's own telemetry
                    self._send(200, b"", "application/x-protobuf")
                    return
                with server.lock:
                    status = server.fail_next.pop(0) if server.fail_next else None
                if status is not None:
                    body = json.dumps({"errors": [{"message": "injected"}]}).encode()
                    self._send(status, body, retry_after="1" if status == 429 else "0")
                    return
                if self.path.endswith("/file_stream"):  # a run's history, summary, log, end
                    ok = server.authorized(self.headers.get("authorization"))
                    if ok:
                        with server.lock:
                            server.file_stream(self.path, body)
                    self._send(200 if ok else 401, b"{}")
                    return
                if self.path.rstrip("/") != "/graphql":
                    self._send(404, b'{"error": "not found"}')
                    return
                if not server.authorized(self.headers.get("authorization")):
                    self._send(401, b'{"errors": [{"message": "invalid API key"}]}')
                    return
                try:
                    request = json.loads(body)
                    data = server.execute(request.get("query", ""), request.get("variables") or {})
                    answer: dict[str, Any] = {"data": data}
                except GraphQLError as exc:
                    answer = {"data": None, "errors": [{"message": m} for m in exc.messages]}
                self._send(200, json.dumps(answer, default=_finite).encode())

            def do_GET(self) -> None:
                with server.lock:
                    stored = server.uploads.get(self.path)
                if stored is None:
                    self._send(404, b'{"error": "not found"}')
                else:
                    self._send(200, stored, "application/octet-stream")

            def do_PUT(self) -> None:  # a file to an upload URL the server handed out
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if not self.path.startswith(UPLOADS):
                    self._send(404, b'{"error": "not found"}')
                    return
                with server.lock:
                    server.uploads[self.path] = body
                self._send(200, b"")

            def _send(
                self,
                status: int,
                body: bytes,
                kind: str = "application/json",
                retry_after: str | None = None,
            ) -> None:
                headers = {"content-type": kind}
                if retry_after is not None:
                    headers["retry-after"] = retry_after
                self.reply(status, body, headers)

        return Handler

    # -- GraphQL -----------------------------------------------------------------------
    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        found = OPERATION.search(query)
        name = found.group(2) if found else "anonymous"
        problems = self.schema.problems(query)
        with self.lock:
            self.requests.append((name, variables))
            if problems:
                self.invalid.extend(f"{name}: {problem}" for problem in problems)
                raise GraphQLError(*problems)
            left = self.fail_after.get(name)
            if left is not None:
                if left <= 0:
                    raise GraphQLError(f"injected: {name} is refused")
                self.fail_after[name] = left - 1
        handler = getattr(self, f"op_{name}", None)
        if handler is None:
            with self.lock:
                self.unknown.append(name)
            raise GraphQLError(f"operation {name} is not served by the test server")
        with self.lock:
            return handler(variables)  # type: ignore[no-any-return]

    def _project(self, variables: dict[str, Any]) -> None:
        entity, project = variables.get("entity"), variables.get("project")
        if (entity, project) != (self.entity, self.project):
            raise GraphQLError(f"project {entity}/{project} not found")

    def _run(self, variables: dict[str, Any]) -> FakeRun:
        self._project(variables)
        run = self.runs.get(str(variables.get("name")))
        if run is None:
            raise GraphQLError(f"run {variables.get('name')} not found")
        return run

    def op_Viewer(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {
            "viewer": {
                "id": "VXNlcjox",
                "entity": self.entity,
                "username": "harness-bot",
                "email": "bot@example.invalid",
                "flags": "{}",
                "teams": {"edges": [{"node": {"name": self.entity}}]},
            }
        }

    def op_GetDefaultEntity(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``api.default_entity``: the key's entity, when none is configured."""
        return {"viewer": {"id": "VXNlcjox", "entity": self.entity}}

    def op_Runs(self, variables: dict[str, Any]) -> dict[str, Any]:
        self._project(variables)
        try:
            filters = json.loads(variables.get("filters") or "{}")
            selected = [r for r in self.runs.values() if matches(r, filters)]
        except (ValueError, TypeError) as exc:
            raise GraphQLError(f"bad filters: {exc}") from exc
        order = variables.get("order") or "+created_at"
        descending = order.startswith("-")
        key = order.lstrip("+-")
        if key not in ("created_at", "createdAt", "heartbeat_at"):
            raise GraphQLError(f"order by {key!r} is not served by the test server")
        selected.sort(
            key=lambda r: r.heartbeat_at if key == "heartbeat_at" else r.created_at,
            reverse=descending,
        )
        start = int(variables["cursor"]) if variables.get("cursor") else 0
        per_page = int(variables.get("perPage") or 50)
        page = selected[start : start + per_page]
        return {
            "project": {
                "internalId": "UHJvamVjdDox",
                "runCount": len(selected),
                "readOnly": False,
                "runs": {
                    "edges": [
                        {"node": run.node("1"), "cursor": str(start + i + 1)}
                        for i, run in enumerate(page)
                    ],
                    "pageInfo": {
                        "endCursor": str(start + len(page)),
                        "hasNextPage": start + len(page) < len(selected),
                    },
                },
            }
        }

    def op_Run(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {"project": {"run": self._run(variables).node("1")}}

    def op_RunSampledHistory(self, variables: dict[str, Any]) -> dict[str, Any]:
        run = self._run(variables)
        specs = [json.loads(s) for s in variables.get("specs", [])]
        return {"project": {"run": {"sampledHistory": [sample_history(run, s) for s in specs]}}}

    def op_RunConsoleLogTail(self, variables: dict[str, Any]) -> dict[str, Any]:
        run = self._run({**variables, "name": variables.get("runName")})
        last = min(int(variables.get("last", 0)), MAX_LOG_LINES)
        first = max(0, len(run.log) - last)
        lines = [
            {"number": i, "timestamp": run.heartbeat_at, "level": "", "label": "", "line": text}
            for i, text in enumerate(run.log[first:], start=first)
        ]
        edges = [{"node": line} for line in lines]
        return {"project": {"run": {"logLineCount": len(run.log), "logLines": {"edges": edges}}}}

    def op_UpsertBucket(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``run.update()`` sends tags, notes and config, then the summary in a second call.

        Without an ``id`` it is ``wandb.init`` creating (or resuming) the run ``name``."""
        if variables.get("id") is None and variables.get("name"):
            return self._upsert_new_run(variables)
        wanted = str(variables.get("id"))
        run = next((r for r in self.runs.values() if r.storage_id == wanted), None)
        if run is None:
            raise GraphQLError(f"run {wanted} not found")
        if variables.get("tags") is not None:
            run.tags = [str(t) for t in variables["tags"]]
        if variables.get("notes") is not None:
            run.notes = str(variables["notes"])
        if variables.get("config") is not None:
            config = json.loads(variables["config"])
            run.config = {k: v.get("value") for k, v in config.items() if isinstance(v, dict)}
        if variables.get("summaryMetrics") is not None:
            run.summary = json.loads(variables["summaryMetrics"])
        return {"upsertBucket": {"bucket": run.node("1")}}

    # -- runs created by wandb.init ---------------------------------------------------
    def _upsert_new_run(self, variables: dict[str, Any]) -> dict[str, Any]:
        self._project(variables)
        name = str(variables["name"])
        run = self.runs.get(name)
        inserted = run is None
        if run is None:
            config = json.loads(variables.get("config") or "{}")
            run = self.add(
                FakeRun(
                    name=name,
                    state="running",
                    config={k: v.get("value") for k, v in config.items() if isinstance(v, dict)},
                    group=variables.get("groupName"),
                    display_name=variables.get("displayName"),
                    job_type=variables.get("jobType"),
                )
            )
        bucket = {
            "id": run.storage_id,
            "name": run.name,
            "displayName": run.display_name or run.name,
            "description": run.notes,
            "config": json.dumps({k: {"value": v} for k, v in run.config.items()}),
            "sweepName": None,
            "project": {
                "id": PROJECT_ID,
                "name": self.project,
                "entity": {"id": "RW50aXR5OjE=", "name": self.entity},
            },
            "historyLineCount": len(run.history),
        }
        return {"upsertBucket": {"bucket": bucket, "inserted": inserted}}

    def file_stream(self, path: str, body: bytes) -> None:
        """``/files/<entity>/<project>/<run>/file_stream``: history rows, the summary, console
        lines and, at the end, ``complete`` with the exit code (which sets the state)."""
        parts = path.strip("/").split("/")
        run = self.runs.get(parts[-2]) if len(parts) >= 5 else None
        if run is None:
            return
        data = json.loads(body or b"{}")
        files = data.get("files") or {}
        for line in (files.get("wandb-history.jsonl") or {}).get("content", []):
            run.history.append(json.loads(line))
        summary = (files.get("wandb-summary.json") or {}).get("content", [])
        if summary:
            run.summary = json.loads(summary[-1])
        run.log.extend((files.get("output.log") or {}).get("content", []))
        if data.get("complete"):
            run.state = "finished" if data.get("exitcode") == 0 else "failed"

    def op_OrganizationCoreWeaveOrganizationID(self, variables: dict[str, Any]) -> dict[str, Any]:
        """wandb-core asks a run's entity for its organization: a team with none here."""
        return {"entity": {"organization": None}}

    def op_RunResumeStatus(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``wandb.init(resume=…)`` asks whether the run exists (``bucket`` null: no)."""
        self._project(variables)
        run = self.runs.get(str(variables.get("name")))
        bucket = None
        if run is not None:
            bucket = {
                "id": run.storage_id,
                "name": run.name,
                "summaryMetrics": json.dumps(run.summary),
                "displayName": run.display_name or run.name,
                "logLineCount": len(run.log),
                "historyLineCount": len(run.history),
                "eventsLineCount": 0,
                "historyTail": "[]",
                "eventsTail": "[]",
                "config": json.dumps({k: {"value": v} for k, v in run.config.items()}),
                "tags": run.tags,
                "notes": run.notes,
                "wandbConfig": "{}",
            }
        model = {
            "id": PROJECT_ID,
            "name": self.project,
            "entity": {"id": "RW50aXR5OjE=", "name": self.entity},
            "bucket": bucket,
        }
        return {"model": model}

    def op_DeleteRun(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``run.delete()``; its artifacts stay unless ``deleteArtifacts`` (not served)."""
        if variables.get("deleteArtifacts"):
            raise GraphQLError("deleteArtifacts is not served by the test server")
        run = next((r for r in self.runs.values() if r.storage_id == variables.get("id")), None)
        if run is None:
            raise GraphQLError(f"run {variables.get('id')} not found")
        del self.runs[run.name]
        self.deleted_runs.append(run.name)
        return {"deleteRun": {"clientMutationId": None}}

    def op_CreateRunFiles(self, variables: dict[str, Any]) -> dict[str, Any]:
        run = self._run({**variables, "name": variables.get("run")})
        files = [
            {"name": name, "uploadUrl": f"{self.url}{UPLOADS}runs/{run.name}/{name}"}
            for name in variables.get("files") or []
        ]
        return {"createRunFiles": {"runID": run.storage_id, "uploadHeaders": [], "files": files}}

    # -- artifacts (launch jobs are artifacts of type "job") -------------------------------
    def _artifact_node(self, artifact: dict[str, Any]) -> dict[str, Any]:
        collection = [a for a in self.artifacts if a["collection"] == artifact["collection"]]
        latest = collection[-1]
        return {
            "id": artifact["id"],
            "state": artifact["state"],
            "artifactSequence": {
                "id": _gql_id("ArtifactSequence", artifact["sequence"]),
                "latestArtifact": {"id": latest["id"], "versionIndex": latest["version"]},
            },
        }

    def _find_artifact(self, name: str) -> dict[str, Any] | None:
        """``collection:alias`` or ``collection:vN`` (no tag: ``latest``)."""
        collection, _, tag = name.partition(":")
        for artifact in self.artifacts:
            if artifact["collection"] != collection:
                continue
            if (tag or "latest") in artifact["aliases"] or tag == f"v{artifact['version']}":
                return artifact
        return None

    def op_ArtifactType(self, variables: dict[str, Any]) -> dict[str, Any]:
        self._project(variables)
        found = self._find_artifact(str(variables.get("name")))
        artifact = {"artifactType": {"name": found["type"]}} if found else None
        return {"project": {"artifact": artifact}}

    def op_CreateArtifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        """A new version of a collection, or the version with the same digest (dedup).

        The Python client sends the fields as variables; wandb-core sends one ``input``."""
        spec = variables.get("input") or variables
        self._project({"entity": spec.get("entityName"), "project": spec.get("projectName")})
        names = spec.get("artifactCollectionNames") or [spec.get("artifactCollectionName")]
        collection = names[0]
        kind = spec.get("artifactTypeName")
        same = [a for a in self.artifacts if a["collection"] == collection]
        if same and same[0]["type"] != kind:
            raise GraphQLError(f"collection {collection} holds artifacts of type {same[0]['type']}")
        found = next((a for a in same if a["digest"] == spec.get("digest")), None)
        if found is None:
            sequences = {a["collection"]: a["sequence"] for a in self.artifacts}
            found = {
                "id": _gql_id("Artifact", len(self.artifacts) + 1),
                "type": kind,
                "collection": collection,
                "sequence": sequences.get(collection, len(sequences) + 1),
                "version": len(same),
                "digest": spec.get("digest"),
                "state": "PENDING",
                "run": spec.get("runName"),
                "description": spec.get("description"),
                "metadata": json.loads(spec.get("metadata") or "{}"),
                "aliases": [],
                "files": {},
            }
            self.artifacts.append(found)
        for alias in spec.get("aliases") or []:
            for other in same:
                if alias["alias"] in other["aliases"]:  # an alias names one version
                    other["aliases"].remove(alias["alias"])
            if alias["alias"] not in found["aliases"]:
                found["aliases"].append(alias["alias"])
        return {"createArtifact": {"artifact": self._artifact_node(found)}}

    def _artifact_by_id(self, artifact_id: object) -> dict[str, Any]:
        found = next((a for a in self.artifacts if a["id"] == artifact_id), None)
        if found is None:
            raise GraphQLError(f"artifact {artifact_id} not found")
        return found

    def op_CreateArtifactManifest(self, variables: dict[str, Any]) -> dict[str, Any]:
        artifact = self._artifact_by_id(variables.get("artifactID"))
        path = f"{UPLOADS}artifacts/{artifact['id']}/manifest.json"
        artifact["manifest"] = path
        file = {
            "id": _gql_id("File", len(self.uploads) + 1),
            "uploadUrl": self.url + path,
            "uploadHeaders": [],
        }
        manifest = {"id": _gql_id("ArtifactManifest", 1), "file": file}
        return {"createArtifactManifest": {"artifactManifest": manifest}}

    def op_CreateArtifactFiles(self, variables: dict[str, Any]) -> dict[str, Any]:
        edges = []
        for spec in (variables.get("input") or {}).get("artifactFiles") or []:
            artifact = self._artifact_by_id(spec.get("artifactID"))
            path = f"{UPLOADS}artifacts/{artifact['id']}/{spec['name']}"
            artifact["files"][spec["name"]] = path
            node = {
                "storagePath": path,
                "uploadUrl": self.url + path,
                "uploadHeaders": [],
                "uploadMultipartUrls": None,
                "artifact": {"id": artifact["id"]},
            }
            edges.append({"node": node})
        return {"createArtifactFiles": {"files": {"edges": edges}}}

    def op_CommitArtifact(self, variables: dict[str, Any]) -> dict[str, Any]:
        artifact = self._artifact_by_id(variables.get("artifactID"))
        missing = [n for n, path in artifact["files"].items() if path not in self.uploads]
        if artifact.get("manifest") not in self.uploads or missing:
            raise GraphQLError(f"artifact {artifact['id']}: files not uploaded: {missing}")
        artifact["state"] = "COMMITTED"
        return {
            "commitArtifact": {"artifact": {"id": artifact["id"], "digest": artifact["digest"]}}
        }

    def _artifact_fragment(self, artifact: dict[str, Any]) -> dict[str, Any]:
        """An artifact as wandb's ``ArtifactFragment`` selects it."""
        project = {
            "id": PROJECT_ID,
            "internalId": "1",
            "name": self.project,
            "entity": {"name": self.entity},
        }
        collection = {
            "__typename": "ArtifactSequence",
            "name": artifact["collection"],
            "project": project,
        }
        return {
            "__typename": "Artifact",
            "id": artifact["id"],
            "artifactSequence": collection,
            "versionIndex": artifact["version"],
            "artifactType": {"name": artifact["type"]},
            "description": artifact["description"],
            "metadata": json.dumps(artifact["metadata"]),
            "ttlDurationSeconds": -1,
            "ttlIsInherited": True,
            "tags": [],
            "historyStep": None,
            "state": artifact["state"],
            "size": sum(len(self.uploads.get(p, b"")) for p in artifact["files"].values()),
            "digest": artifact["digest"],
            "commitHash": None,
            "fileCount": len(artifact["files"]),
            "createdAt": "2026-01-01T00:00:00",
            "updatedAt": None,
            "aliases": [
                {
                    "__typename": "ArtifactAlias",
                    "id": _gql_id("ArtifactAlias", i + 1),
                    "alias": alias,
                    "artifactCollection": {**collection, "__typename": "ArtifactSequence"},
                }
                for i, alias in enumerate(artifact["aliases"])
            ],
        }

    def op_ArtifactMembershipByName(self, variables: dict[str, Any]) -> dict[str, Any]:
        """``api.artifact("entity/project/name:alias")`` (``launch_add`` checks the job)."""
        self._project(variables)
        found = self._find_artifact(str(variables.get("name")))
        if found is None:
            return {"project": {"artifactCollectionMembership": None}}
        fragment = self._artifact_fragment(found)
        collection = {**fragment["artifactSequence"], "__typename": "ArtifactSequence"}
        membership = {
            "__typename": "ArtifactCollectionMembership",
            "id": _gql_id("ArtifactCollectionMembership", int(found["version"]) + 1),
            "versionIndex": found["version"],
            "createdAt": "2026-01-01T00:00:00",
            "aliases": [
                {k: a[k] for k in ("__typename", "id", "alias")} for a in fragment["aliases"]
            ],
            "artifactCollection": collection,
            "artifact": fragment,
        }
        return {"project": {"artifactCollectionMembership": membership}}

    def op_ArtifactByID(self, variables: dict[str, Any]) -> dict[str, Any]:
        found = next((a for a in self.artifacts if a["id"] == variables.get("id")), None)
        return {"artifact": self._artifact_fragment(found) if found else None}

    # -- launch: run queues ----------------------------------------------------------------
    def _queue(self, entity: object, project: object, name: object) -> dict[str, Any] | None:
        """The entity's queue ``name``; queues live in its ``model-registry`` project."""
        if entity != self.entity or project != "model-registry":
            return None
        return self.queues.get(str(name))

    def op_HarnessQueueItems(self, variables: dict[str, Any]) -> dict[str, Any]:
        """A queue's first 100 items (``first: 100``, as wandb's ``RunQueue`` asks)."""
        if variables.get("entityName") != self.entity:
            return {"project": None}
        queue = self._queue(self.entity, variables.get("projectName"), variables.get("runQueue"))
        if queue is None:
            return {"project": {"runQueue": None}}
        nodes = [
            {k: item[k] for k in ("id", "state", "associatedRunId")}
            for item in queue["items"][:100]
        ]
        return {"project": {"runQueue": {"runQueueItems": {"edges": [{"node": n} for n in nodes]}}}}

    def op_HarnessQueueItem(self, variables: dict[str, Any]) -> dict[str, Any]:
        """One item with its run spec and error (the fields W&B's Launch skill reads)."""
        if variables.get("entityName") != self.entity:
            return {"project": None}
        name = variables.get("runQueueName")
        queue = self._queue(self.entity, variables.get("projectName"), name)
        if queue is None:
            return {"project": {"runQueue": None}}
        item = next((i for i in queue["items"] if i["id"] == variables.get("runQueueItemID")), None)
        node = None
        if item is not None:
            spec = item["runSpec"]
            node = {
                "id": item["id"],
                "state": item["state"],
                "associatedRunId": item["associatedRunId"],
                "runSpec": json.dumps(spec) if self.run_spec_as == "string" else spec,
                "error": item.get("error"),
            }
        return {"project": {"runQueue": {"runQueueItem": node}}}

    def _push(self, queue: dict[str, Any] | None, spec: str, name: object) -> dict[str, Any]:
        if queue is None:
            raise GraphQLError(f"run queue {name} not found")
        self.items_pushed += 1
        item = {
            "id": _gql_id("RunQueueItem", self.items_pushed),
            "state": "PENDING",
            "associatedRunId": None,
            "runSpec": json.loads(spec),
        }
        queue["items"].append(item)
        return item

    def op_pushToRunQueueByName(self, variables: dict[str, Any]) -> dict[str, Any]:
        name = variables.get("queueName")
        queue = self._queue(variables.get("entityName"), variables.get("projectName"), name)
        item = self._push(queue, str(variables.get("runSpec")), name)
        answer = {"runQueueItemId": item["id"], "runSpec": json.dumps(item["runSpec"])}
        return {"pushToRunQueueByName": answer}

    def op_ProjectRunQueues(self, variables: dict[str, Any]) -> dict[str, Any]:
        """The legacy path: the client lists the queues when a push by name failed."""
        if (variables.get("entity"), variables.get("projectName")) != (
            self.entity,
            "model-registry",
        ):
            return {"project": None}
        queues = [
            {k: q[k] for k in ("id", "name", "createdBy", "access")} for q in self.queues.values()
        ]
        return {"project": {"runQueues": queues}}

    def op_pushToRunQueue(self, variables: dict[str, Any]) -> dict[str, Any]:
        wanted = variables.get("queueID")
        queue = next((q for q in self.queues.values() if q["id"] == wanted), None)
        item = self._push(queue, str(variables.get("runSpec")), wanted)
        return {"pushToRunQueue": {"runQueueItemId": item["id"]}}

    def op_fetchRunQueuesFromProject(self, variables: dict[str, Any]) -> dict[str, Any]:
        """A queue's id (``QueuedRun.delete`` asks for it first; harness checks the queue)."""
        queue = self._queue(
            variables.get("entityName"), variables.get("projectName"), variables.get("runQueueName")
        )
        return {"project": {"runQueue": {"id": queue["id"]} if queue else None}}

    def op_DeleteFromRunQueue(self, variables: dict[str, Any]) -> dict[str, Any]:
        queue = next((q for q in self.queues.values() if q["id"] == variables.get("queueID")), None)
        if queue is None:
            raise GraphQLError(f"run queue {variables.get('queueID')} not found")
        kept = [i for i in queue["items"] if i["id"] != variables.get("runQueueItemId")]
        if len(kept) == len(queue["items"]):
            raise GraphQLError(f"run queue item {variables.get('runQueueItemId')} not found")
        queue["items"] = kept
        return {"deleteFromRunQueue": {"success": True, "clientMutationId": None}}

    # -- automations -------------------------------------------------------------------
    def _entity(self, variables: dict[str, Any]) -> bool:
        return variables.get("entity") == self.entity

    def op_ServerFeaturesQuery(self, variables: dict[str, Any]) -> dict[str, Any]:
        features = [{"name": n, "isEnabled": on} for n, on in sorted(self.features.items())]
        return {"serverInfo": {"features": features}}

    def op_GetProject(self, variables: dict[str, Any]) -> dict[str, Any]:
        if (variables.get("entity"), variables.get("name")) != (self.entity, self.project):
            return {"project": None}
        return {
            "project": {
                "__typename": "Project",
                "id": PROJECT_ID,
                "name": self.project,
                "entityName": self.entity,
                "createdAt": "2026-01-01T00:00:00",
                "isBenchmark": False,
                "user": None,
            }
        }

    def _page(self, items: list[dict[str, Any]], variables: dict[str, Any]) -> dict[str, Any]:
        start = int(variables["cursor"]) if variables.get("cursor") else 0
        page = items[start : start + int(variables.get("perPage") or 50)]
        return {
            "pageInfo": {
                "endCursor": str(start + len(page)),
                "hasNextPage": start + len(page) < len(items),
            },
            "edges": [{"node": node} for node in page],
        }

    def op_IntegrationsByEntity(self, variables: dict[str, Any]) -> dict[str, Any]:
        if not self._entity(variables):
            return {"entity": None}
        return {"entity": {"integrations": self._page(self.integrations, variables)}}

    def op_GetEntityAutomations(self, variables: dict[str, Any]) -> dict[str, Any]:
        if not self.features.get("QUERY_AUTOMATIONS_ON_ENTITY"):
            raise GraphQLError('Cannot query field "triggers" on type "Entity".')
        if not self._entity(variables):
            return {"scope": None}
        filters = json.loads(variables.get("filters") or "{}")
        if set(filters) - {"name"}:
            raise GraphQLError(f"filter on {sorted(filters)} is not served by the test server")
        found = [a for a in self.automations if filters.get("name", a["name"]) == a["name"]]
        return {"scope": {"triggers": self._page(found, variables)}}

    def op_GetEntityAutomationsLegacy(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Older servers: the entity's projects, each with all of its triggers."""
        if not self._entity(variables):
            return {"scope": None}
        project = {"__typename": "Project", "triggers": self.automations}
        return {"scope": {"projects": self._page([project], variables)}}

    def op_CreateAutomation(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Saves a trigger as W&B would answer it; refuses what W&B refuses."""
        spec = variables.get("input") or {}
        if spec.get("scopeType") != "PROJECT" or spec.get("scopeID") != PROJECT_ID:
            raise GraphQLError(f"scope {spec.get('scopeType')} {spec.get('scopeID')} not found")
        if any(a["name"] == spec.get("name") for a in self.automations):
            raise GraphQLError(f"a trigger named {spec.get('name')!r} already exists")
        if spec.get("triggeredActionType") != "GENERIC_WEBHOOK":
            raise GraphQLError(f"action {spec.get('triggeredActionType')} is not served here")
        action = (spec.get("triggeredActionConfig") or {}).get("genericWebhookActionInput") or {}
        hook = next((i for i in self.integrations if i["id"] == action.get("integrationID")), None)
        if hook is None or hook["__typename"] != "GenericWebhookIntegration":
            raise GraphQLError(f"webhook integration {action.get('integrationID')} not found")
        payload = action.get("requestPayload")
        try:  # W&B refuses a payload or an event filter that is not JSON
            json.loads(payload or "{}")
            json.loads(spec.get("eventFilter") or "")
        except ValueError as exc:
            raise GraphQLError(f"invalid JSON: {exc}") from exc
        trigger = {
            "__typename": "Trigger",
            "id": _gql_id("Trigger", len(self.automations) + 1),
            "createdAt": "2026-01-01T00:00:00",
            "updatedAt": None,
            "name": spec["name"],
            "description": spec.get("description"),
            "enabled": spec.get("enabled", True),
            "scope": {"__typename": "Project", "id": PROJECT_ID, "name": self.project},
            "event": {
                "__typename": "FilterEventTriggeringCondition",
                "eventType": spec["triggeringEventType"],
                "filter": spec["eventFilter"],  # run events are saved as they were sent
            },
            "action": {
                "__typename": "GenericWebhookTriggeredAction",
                "integration": {k: hook[k] for k in ("__typename", "id", "name", "urlEndpoint")},
                "requestPayload": payload,
            },
        }
        self.automations.append(trigger)
        return {"result": {"trigger": trigger}}


def _gql_id(kind: str, number: int) -> str:
    return base64.b64encode(f"{kind}:{number}".encode()).decode()


class GraphQLError(Exception):
    """Answered as GraphQL ``errors``, one entry per message."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def runs_from_local_store(home: Path) -> Iterator[FakeRun]:
    """The runs of a local store as W&B would hold them once synced.

    Identity goes to ``config`` (as ``harness.tracking`` records it online), the curves of
    ``curves.json`` become history rows, and ``output.log`` the console log.
    """
    for run_dir in sorted((home / "runs").iterdir()):
        manifest = _read_json(run_dir / "harness.json")
        if not manifest:
            continue
        config = dict(manifest.get("config") or {})
        for key in ("branch", "commit", "seed"):
            if manifest.get(key) is not None:
                config.setdefault(key, manifest[key])
        rows: dict[int, dict[str, Any]] = {}
        for metric, points in _read_json(run_dir / "curves.json").items():
            for step, value in points:
                rows.setdefault(step, {"_step": step})[metric] = value
        log_path = run_dir / "output.log"
        log = []
        if log_path.exists():
            log = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        state = str(manifest.get("state", "running"))
        yield FakeRun(
            name=run_dir.name,
            state=state,  # a killed process stops its heartbeats: W&B says crashed too
            config=config,
            summary=dict(manifest.get("summary") or {}),
            group=manifest.get("group"),
            display_name=manifest.get("name"),
            created_at=str(manifest.get("created_at", "")).replace("+00:00", ""),
            heartbeat_at=str(manifest.get("ended_at") or manifest.get("created_at", "")),
            history=[rows[s] for s in sorted(rows)],
            log=log,
        )


def serve(home: Path) -> None:  # pragma: no cover - a manual tool
    server = WandbServer().start()
    for run in runs_from_local_store(home):
        server.add(run)
    print(f"WANDB_BASE_URL={server.url} ({len(server.runs)} runs)", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    serve(Path(sys.argv[1]))
