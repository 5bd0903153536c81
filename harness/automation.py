"""The W&B automation that closes the loop: a run of the project ends → W&B calls a webhook
→ GitHub ``repository_dispatch`` (``wandb_run_finished``) → ``harness analyze``.

``harness setup-automation`` creates it through the W&B API, so nobody clicks through
W&B's UI. The webhook's body is the template ``misc/wandb_webhook_payload.json``, checked
here before W&B is contacted: once W&B fills in its variables, ``harness analyze`` must
accept what arrives. Creating is find-then-create: an automation of the same name is
reported and never changed, so running the command twice makes one automation.

Planning is pure. Only ``apply_automation`` talks to W&B, through ``stores.wandb.connect``
(wandb imported there, lazily): this module never imports wandb at import time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .bounded import DataError, parse_json
from .config import Settings
from .errors import UsageError
from .events import EVENT_TYPE, MAX_PAYLOAD_BYTES, parse_event
from .stores.wandb import call_wandb, connect

__all__ = [
    "DEFAULT_NAME",
    "PAYLOAD_TEMPLATE",
    "STATES",
    "AutomationOutcome",
    "AutomationPlan",
    "apply_automation",
    "check_payload",
    "plan_automation",
    "read_payload_template",
]

PAYLOAD_TEMPLATE = Path("misc") / "wandb_webhook_payload.json"  # at the repository root
DEFAULT_NAME = "harness-run-finished"
EVENT = "RUN_STATE"
# The states that fire it. wandb 0.31 knows RUNNING, FINISHED and FAILED for run-state
# automations; its CRASHED is an alias of FAILED (wandb.automations._run_state_filters:
# W&B's coarse run state "failed" covers crashed runs), and the string "crashed" is
# refused. So these two cover every ended run: finished, failed and crashed.
STATES = ("finished", "failed")
# The variables W&B fills in a run event's webhook payload (its docs). Anything else in
# ``${…}`` would reach GitHub as it is, and secrets do not belong in an event body.
VARIABLES = ("entity_name", "project_name", "event_type", "event_author")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")  # W&B caps an automation name at 255
_WEBHOOK = re.compile(r"[-\w]+(?: +[-\w]+)*")  # W&B's own rule for integration names
_SHOWN_NAMES = 20  # webhook names listed in an error, at most


@dataclass(frozen=True)
class AutomationPlan:
    """What ``setup-automation`` creates: one run-state automation of one project."""

    name: str
    project: str
    entity: str | None  # None: the API key's default entity, known once W&B is contacted
    webhook: str
    payload: Mapping[str, Any]
    template: Path
    states: tuple[str, ...] = STATES
    event: str = EVENT

    @property
    def path(self) -> str:
        return f"{self.entity or '<default entity>'}/{self.project}"

    @property
    def description(self) -> str:
        return (
            f"harness: when a run of {self.path} finishes or fails (crashed counts as "
            f"failed), send {self.template.name} through webhook '{self.webhook}': a "
            f"repository_dispatch {EVENT_TYPE} that runs harness analyze. "
            "Made by `harness setup-automation`."
        )


@dataclass(frozen=True)
class AutomationOutcome:
    """What happened: nothing yet (dry run), created, or found under the same name."""

    status: Literal["would_create", "created", "exists"]
    plan: AutomationPlan
    id: str | None = None
    webhook_id: str | None = None
    differences: tuple[str, ...] = field(default=())  # an existing one's, from the plan

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "schema_version": 1,
            "status": self.status,
            "id": self.id,
            "name": plan.name,
            "entity": plan.entity,
            "project": plan.project,
            "event": plan.event,
            "states": list(plan.states),
            "webhook": {"name": plan.webhook, "id": self.webhook_id},
            "template": str(plan.template),
            "payload": dict(plan.payload),
            "description": plan.description,
            "differences": list(self.differences),
        }


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    """The payload as W&B sends it: its variables replaced by these values."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _variables(value: Any, where: str) -> list[tuple[str, str]]:
    """(where, name) of every ``${name}`` in the strings of a JSON value."""
    if isinstance(value, str):
        return [(where, m.group(1)) for m in _VARIABLE.finditer(value)]
    if isinstance(value, Mapping):
        return [f for k, v in value.items() for f in _variables(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _variables(v, f"{where}[{i}]")]
    return []


def check_payload(data: object, *, where: str, entity: str | None, project: str) -> None:
    """A one-line UsageError unless ``data`` is a payload ``harness analyze`` accepts once W&B
    has filled in its variables for a run of ``entity/project``."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: expected a JSON object with event_type and client_payload")
    for key in ("event_type", "client_payload"):
        if key not in data:
            raise UsageError(f"{where}: {key} is missing (repository_dispatch needs it)")
    extra = sorted(str(k) for k in data if k not in ("event_type", "client_payload"))
    if extra:
        raise UsageError(
            f"{where}: unknown key {extra[0][:60]!r} (repository_dispatch takes only "
            "event_type and client_payload)"
        )
    if data["event_type"] != EVENT_TYPE:
        raise UsageError(
            f"{where}: event_type must be {EVENT_TYPE!r} (the workflow's trigger), "
            f"got {str(data['event_type'])[:60]!r}"
        )
    if not isinstance(data["client_payload"], Mapping):
        raise UsageError(f"{where}: client_payload must be a JSON object")
    for place, name in _variables(data["client_payload"], "client_payload"):
        if name not in VARIABLES:
            known = ", ".join(f"${{{v}}}" for v in VARIABLES)
            raise UsageError(
                f"{where}: {place} uses ${{{name[:60]}}}, which W&B does not fill in "
                f"for run events (it fills in {known})"
            )
    sent = _fill(
        data,
        {
            "entity_name": entity or "entity",
            "project_name": project,
            "event_type": EVENT,
            "event_author": "wandb-user",
        },
    )
    try:
        parse_event(sent)
    except UsageError as exc:
        raise UsageError(f"{where}: harness analyze would refuse what W&B sends: {exc}") from exc


def read_payload_template(path: Path, *, entity: str | None, project: str) -> dict[str, Any]:
    """The webhook payload template, read and checked (``check_payload``)."""
    try:
        if path.stat().st_size > MAX_PAYLOAD_BYTES:
            raise UsageError(f"{path}: larger than {MAX_PAYLOAD_BYTES} bytes")
        data = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(
            f"{path}: no such file (the webhook payload template, from misc/ of harness)"
        ) from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    except DataError as exc:  # not JSON, or nested too deeply
        cause = exc.__cause__
        detail = f": {cause.msg}" if isinstance(cause, json.JSONDecodeError) else ""
        raise UsageError(f"{path}: {exc}{detail}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (not UTF-8)") from exc
    check_payload(data, where=str(path), entity=entity, project=project)
    return dict(data)


def plan_automation(settings: Settings, *, webhook: str, name: str) -> AutomationPlan:
    """The automation to create for ``settings``' W&B project, from the repository's
    payload template. Pure: W&B is not contacted."""
    if not _NAME.fullmatch(name) or name != name.strip():
        raise UsageError(f"--name: not a W&B automation name (1 to 255 characters): {name!r}")
    if len(webhook) > 64 or not _WEBHOOK.fullmatch(webhook):
        raise UsageError(
            f"--webhook: not a W&B webhook name (letters, digits, '-', '_', spaces): {webhook!r}"
        )
    wb = settings.wandb
    template = settings.root / PAYLOAD_TEMPLATE
    payload = read_payload_template(template, entity=wb.entity, project=wb.project)
    shown = template.relative_to(settings.root)
    return AutomationPlan(name, wb.project, wb.entity, webhook, payload, shown)


def _states(saved: Any) -> list[str]:
    state = getattr(getattr(saved.event, "filter", None), "state", None)
    return sorted(str(getattr(s, "value", s)).lower() for s in getattr(state, "states", ()))


def _differences(saved: Any, plan: AutomationPlan, webhook_id: str) -> tuple[str, ...]:
    """How an automation saved in W&B differs from the plan, in a few words each."""
    found: list[str] = []
    event_type = str(getattr(saved.event.event_type, "value", saved.event.event_type))
    if event_type != plan.event:
        found.append(f"event {event_type}")
    elif _states(saved) != sorted(plan.states):
        found.append(f"states {','.join(_states(saved)) or 'none'}")
    integration = getattr(saved.action, "integration", None)
    if getattr(integration, "id", None) != webhook_id:
        found.append("webhook")
    if getattr(saved.action, "request_payload", None) != dict(plan.payload):
        found.append("payload")
    if not saved.enabled:
        found.append("disabled")
    return tuple(found)


def _project(api: Any, entity: str, project: str) -> Any:
    """The project as wandb's automations take it for a scope; its id is loaded."""
    handle = api.project(project, entity=entity)
    try:
        handle.id  # noqa: B018 - loads the project, or says it does not exist
    except ValueError as exc:
        # wandb raises a bare ValueError when the server says "no such project", and one
        # raised from the API error when the request failed: only the first is ours to say.
        if exc.__cause__ is None:
            raise UsageError(
                f"W&B: no project {entity}/{project} (its first run creates it; set "
                "wandb.project or WANDB_PROJECT to another one)"
            ) from exc
        raise
    return handle


def apply_automation(settings: Settings, plan: AutomationPlan) -> AutomationOutcome:
    """Create the planned automation in W&B, unless one of the same name exists there."""
    api, entity = connect(settings)
    plan = replace(plan, entity=entity)
    path = plan.path
    project = call_wandb(f"read project {path}", lambda: _project(api, entity, plan.project))
    hooks = call_wandb(
        f"list the webhooks of entity {entity}",
        lambda: list(api.webhook_integrations(entity)),
    )
    hook = next((h for h in hooks if h.name == plan.webhook), None)
    if hook is None:
        names = sorted(str(h.name) for h in hooks)
        listed = ", ".join(repr(n) for n in names[:_SHOWN_NAMES])
        more = f" and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else ""
        raise UsageError(
            f"W&B: no webhook named {plan.webhook!r} in entity {entity} ("
            + (f"it has {listed}{more})" if names else "it has none: add one in Team settings)")
        )
    same_name = call_wandb(
        f"list the automations of entity {entity}",
        lambda: [a for a in api.automations(entity, name=plan.name) if a.name == plan.name],
    )
    for saved in same_name:
        if getattr(saved.scope, "id", None) == project.id:
            return AutomationOutcome(
                "exists",
                plan,
                id=str(saved.id),
                webhook_id=str(hook.id),
                differences=_differences(saved, plan, str(hook.id)),
            )
    if same_name:
        other = getattr(same_name[0].scope, "name", "another scope")
        raise UsageError(
            f"W&B: automation name {plan.name!r} is taken in entity {entity} by one for "
            f"{other!r}, not project {plan.project!r}; pass another --name"
        )

    def create() -> Any:
        from wandb.automations import OnRunState, RunEvent, SendWebhook

        event = OnRunState(
            scope=project,
            # wandb's documented form (a validator nests it into a RunStateFilter, which
            # is what its type says).
            filter=RunEvent.state.in_(plan.states),  # type: ignore[arg-type]
        )
        action = SendWebhook.from_integration(hook, payload=dict(plan.payload))
        return api.create_automation(event >> action, name=plan.name, description=plan.description)

    created = call_wandb(f"create automation {plan.name!r} in {path}", create)
    return AutomationOutcome("created", plan, id=str(created.id), webhook_id=str(hook.id))
