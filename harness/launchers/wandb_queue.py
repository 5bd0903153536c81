"""A W&B Launch queue, read and written with the queries W&B's own code sends.

W&B's GraphQL schema is not public; W&B's own queries are. Every query here asks only for
what one of them asks for, on the same path:

- the queue's id: ``fetchRunQueuesFromProject`` (wandb's ``QueuedRun.delete``);
- its items: ``runQueueItems(first: 100) { edges { node { id state associatedRunId } } }``
  (wandb's ``RunQueue._get_items`` pages with ``first: 100`` and nothing else; its
  ``QueuedRun._get_run_queue_item_legacy`` reads those three fields). W&B's code never
  pages past that, so neither do we: an item past the first 100 is not seen;
- one item with its run spec and its error: ``runQueueItem(id:)`` with ``runSpec``,
  ``state``, ``associatedRunId`` and ``error { message stage }`` (W&B's Launch skill,
  ``launch_helpers._fetch_launch_queue_item``, which reads ``runSpec`` as an object;
  it is a JSON scalar, so a string is taken too).

A run spec never changes once an item is queued, so ``QueueReader`` asks for each item's
once; its state is read on every listing. Never imports wandb itself: it is handed a
``wandb.Api``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENDED_ITEM_STATES",
    "LAUNCH_PROJECT",
    "MAX_QUEUE_ITEMS",
    "QueueItem",
    "QueueReader",
    "queue_id",
    "spec_of",
]

LAUNCH_PROJECT = "model-registry"  # where W&B keeps an entity's queues (wandb's default)
MAX_QUEUE_ITEMS = 100  # what W&B's own listing asks for
ENDED_ITEM_STATES = frozenset({"FAILED", "FINISHED"})  # an item no agent will start

QUEUE_ID_QUERY = """
query fetchRunQueuesFromProject($entityName: String!, $projectName: String!,
                                $runQueueName: String!) {
    project(name: $projectName, entityName: $entityName) {
        runQueue(name: $runQueueName) { id }
    }
}
"""
ITEMS_QUERY = """
query HarnessQueueItems($entityName: String!, $projectName: String!, $runQueue: String!) {
    project(name: $projectName, entityName: $entityName) {
        runQueue(name: $runQueue) {
            runQueueItems(first: 100) {
                edges { node { id state associatedRunId } }
            }
        }
    }
}
"""
ITEM_QUERY = """
query HarnessQueueItem($entityName: String!, $projectName: String!, $runQueueName: String!,
                       $runQueueItemID: ID!) {
    project(name: $projectName, entityName: $entityName) {
        runQueue(name: $runQueueName) {
            runQueueItem(id: $runQueueItemID) {
                id
                state
                associatedRunId
                runSpec
                error { message stage }
            }
        }
    }
}
"""


def spec_of(value: object) -> Mapping[str, Any]:
    """An item's run spec, given as an object or as its JSON text; {} when neither."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class QueueItem:
    """One item of a queue: what an agent starts (or failed to start)."""

    id: str
    state: str  # PENDING, LEASED, CLAIMED, FINISHED or FAILED (upper case)
    run_id: str | None  # the run its agent started (associatedRunId)
    spec: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None  # why it failed, as the agent said

    @property
    def run_config(self) -> Mapping[str, Any]:
        overrides = self.spec.get("overrides")
        found = overrides.get("run_config") if isinstance(overrides, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    @property
    def spec_run_id(self) -> str | None:
        """The run id the item was queued with (harness names one per item)."""
        found = self.spec.get("run_id")
        return found if isinstance(found, str) else None

    def in_project(self, entity: str, project: str) -> bool:
        """Queued for runs of ``entity/project`` (a queue serves an entity's projects)."""
        return (self.spec.get("entity"), self.spec.get("project")) == (entity, project)

    @property
    def failed(self) -> bool:
        return self.state == "FAILED"

    @property
    def waiting(self) -> bool:
        """Queued and not started yet: an agent may still take it."""
        return self.state not in ENDED_ITEM_STATES and not self.run_id


def queue_id(api: Any, entity: str, queue: str) -> str | None:
    """The id of the entity's queue ``queue``; None when there is none."""
    variables = {"entityName": entity, "projectName": LAUNCH_PROJECT, "runQueueName": queue}
    data = api._service_api.execute_graphql(QUEUE_ID_QUERY, variables)
    found = ((data or {}).get("project") or {}).get("runQueue")
    return str(found["id"]) if found else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _error(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    message = " ".join(str(value.get("message") or "").split())[:500]
    stage = _text(value.get("stage"))
    if not message:
        return None
    return f"{message} (stage: {stage})" if stage else message


class QueueReader:
    """The items of one queue, each item's run spec asked for once."""

    def __init__(self, api: Any, entity: str, queue: str) -> None:
        self.api, self.entity, self.queue = api, entity, queue
        self.details: dict[str, QueueItem] = {}
        self.asked_again: set[str] = set()  # failed items whose error was asked for once more

    def _execute(self, query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        data = self.api._service_api.execute_graphql(query, dict(variables))
        return data if isinstance(data, Mapping) else {}

    def _listed(self) -> list[QueueItem]:
        variables = {"entityName": self.entity, "projectName": LAUNCH_PROJECT}
        data = self._execute(ITEMS_QUERY, {**variables, "runQueue": self.queue})
        runs_queue = (data.get("project") or {}).get("runQueue") or {}
        edges = (runs_queue.get("runQueueItems") or {}).get("edges") or []
        found = []
        for edge in edges[:MAX_QUEUE_ITEMS]:
            node = edge.get("node") if isinstance(edge, Mapping) else None
            if isinstance(node, Mapping) and node.get("id") is not None:
                state = str(node.get("state") or "").upper()
                found.append(QueueItem(str(node["id"]), state, _text(node.get("associatedRunId"))))
        return found

    def _detail(self, item_id: str) -> QueueItem | None:
        variables = {
            "entityName": self.entity,
            "projectName": LAUNCH_PROJECT,
            "runQueueName": self.queue,
            "runQueueItemID": item_id,
        }
        data = self._execute(ITEM_QUERY, variables)
        node = ((data.get("project") or {}).get("runQueue") or {}).get("runQueueItem")
        if not isinstance(node, Mapping):
            return None
        return QueueItem(
            item_id,
            str(node.get("state") or "").upper(),
            _text(node.get("associatedRunId")),
            spec_of(node.get("runSpec")),
            _error(node.get("error")),
        )

    def items(self) -> list[QueueItem]:
        """The queue's items now, with their run specs (and errors, once failed)."""
        found = []
        for listed in self._listed():
            known = self.details.get(listed.id)
            again = listed.failed and known is not None and known.error is None
            if known is None or (again and listed.id not in self.asked_again):
                if again:
                    self.asked_again.add(listed.id)
                detail = self._detail(listed.id)
                if detail is not None:  # none: asked again next time, never kept empty
                    self.details[listed.id] = detail
                known = detail or listed
            found.append(QueueItem(listed.id, listed.state, listed.run_id, known.spec, known.error))
        return found
