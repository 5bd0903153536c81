"""The run-finished event: W&B's webhook, delivered by GitHub as a repository_dispatch.

Everything in it is untrusted. It is validated here, before any work: known keys only,
bounded sizes, W&B names by pattern, branches by git's ref rules. A bad value is a one-line
UsageError (exit 2). Core: pure parsing, no I/O beyond reading the event file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .bounded import DataError, parse_json
from .errors import BranchError, UsageError
from .git import validate_branch

__all__ = ["EVENT_TYPE", "RunEvent", "parse_event", "read_event_file", "validate_run_id"]

EVENT_TYPE = "wandb_run_finished"
MAX_EVENT_BYTES = 1_000_000  # GitHub's event file: the payload plus repository and sender
MAX_PAYLOAD_BYTES = 65_536  # GitHub's limit for a repository_dispatch body
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_WORD = re.compile(r"^[A-Za-z0-9_.:@+-]{0,128}$")
_STATES = ("finished", "failed", "crashed")
_KEYS = {"entity_name", "project_name", "event_type", "event_author", "run_id", "branch", "state"}


@dataclass(frozen=True)
class RunEvent:
    """Which runs to report on. W&B's payload names only entity and project; run_id,
    branch and state narrow it for teams that send their own webhooks."""

    entity: str | None
    project: str | None
    run_id: str | None = None
    branch: str | None = None
    state: str | None = None
    event_type: str | None = None
    event_author: str | None = None


def _text(
    payload: Mapping[str, object], key: str, pattern: re.Pattern[str], *, required: bool
) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise UsageError(f"event: client_payload.{key} is missing")
        return None
    if not isinstance(value, str):
        raise UsageError(
            f"event: client_payload.{key} must be a string, got {type(value).__name__}"
        )
    if not pattern.match(value):
        shown = value if len(value) <= 60 else value[:60] + "…"
        raise UsageError(f"event: client_payload.{key} is not valid: {shown!r}")
    return value


def validate_run_id(run_id: object) -> str:
    """A run id as W&B makes them ([A-Za-z0-9_-], at most 128), else a one-line UsageError."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise UsageError(f"invalid run id {str(run_id)[:60]!r}")
    return run_id


def parse_event(data: object) -> RunEvent:
    """A RunEvent from a GitHub repository_dispatch event (or its bare request body)."""
    if not isinstance(data, Mapping):
        raise UsageError("event: expected a JSON object")
    action = data.get("action", data.get("event_type"))
    if action is not None and action != EVENT_TYPE:
        shown = action if isinstance(action, str) and len(action) <= 60 else "…"
        raise UsageError(f"event: type is {shown!r}, not {EVENT_TYPE!r}")
    payload = data.get("client_payload")
    if not isinstance(payload, Mapping):
        raise UsageError("event: client_payload is missing or not an object")
    if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:
        raise UsageError(f"event: client_payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    extra = sorted(str(k) for k in payload if k not in _KEYS)
    if extra:
        raise UsageError(f"event: client_payload has unknown key {extra[0][:60]!r}")
    branch = payload.get("branch")
    if branch is not None:
        if not isinstance(branch, str):
            raise UsageError("event: client_payload.branch must be a string")
        try:
            validate_branch(branch)
        except BranchError as exc:
            raise UsageError(f"event: client_payload.branch: {exc}") from exc
    state = payload.get("state")
    if state is not None and state not in _STATES:
        raise UsageError(f"event: client_payload.state must be one of {', '.join(_STATES)}")
    return RunEvent(
        entity=_text(payload, "entity_name", _NAME, required=False),
        project=_text(payload, "project_name", _NAME, required=True),
        run_id=_text(payload, "run_id", _RUN_ID, required=False),
        branch=branch or None,
        state=state,
        event_type=_text(payload, "event_type", _WORD, required=False),
        event_author=_text(payload, "event_author", _WORD, required=False),
    )


def read_event_file(path: Path) -> RunEvent:
    """Read and validate an event file (``GITHUB_EVENT_PATH`` or ``--event-file``)."""
    try:
        size = path.stat().st_size
        if size > MAX_EVENT_BYTES:
            raise UsageError(f"event: {path} is larger than {MAX_EVENT_BYTES} bytes")
        data = parse_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"event: cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"event: {path} is not UTF-8 text") from exc
    except DataError as exc:
        raise UsageError(f"event: {path}: {exc}") from exc
    return parse_event(data)
