"""The W&B run store: runs read through ``wandb.Api`` (wandb is imported only when used).

A run belongs to a branch through ``config.branch`` (``harness.tracking`` records it, and
the W&B launcher passes it in ``run_config``), so only runs with that key are read: the
newest ``MAX_RUNS`` of them, newest first. Curves come from the sampled history, the log
tail from W&B's console-log tail (one bounded request), and "reported" is a run tag.

Errors from W&B become one line: no key or a refused key is ``BackendUnavailable``, a
server or network failure a ``StoreError``; both exit 2. ``connect`` and ``call_wandb`` keep
those rules for every W&B caller (``harness.automation`` too).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..config import Settings
from ..errors import BackendUnavailable, HarnessError, StoreError
from ..manifest import parse_time
from ..runs import Run, RunState, public, record_int, record_str

T = TypeVar("T")

__all__ = ["REPORTED_TAG", "WandbStore", "call_wandb", "connect"]

REPORTED_TAG = "harness-reported"  # set on a run once its report was delivered
MAX_RUNS = 2000  # newest runs read per command; older ones are named in a warning
PER_PAGE = 200
CURVE_SAMPLES = 256  # the local store keeps at most this many points per curve too
MAX_LINE_CHARS = 4000  # one console line; W&B can hold very long ones
API_TIMEOUT_S = 30  # per request
# wandb-core retries 5xx, 429 (honouring Retry-After) and network errors with backoff, by
# default for minutes. Bounded here: 4 retries, waits of 1 s doubling to at most 8 s.
RETRIES = {
    "WANDB__GRAPHQL_RETRY_MAX": "4",
    "WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS": "1",
    "WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS": "8",
}
_WANDB_STATES = {
    RunState.RUNNING: ["running", "pending"],
    RunState.FINISHED: ["finished"],
    RunState.FAILED: ["failed"],
    RunState.CRASHED: ["crashed", "killed", "preempted"],
}


# What W&B's end states mean (its docs), in the words diagnose() matches.
_REASONS = {
    "crashed": "lost: W&B stopped receiving the run's heartbeats (process or machine died)",
    "killed": "killed: the run was stopped from outside (W&B says killed)",
    "preempted": "preempted: the run's machine was taken back (W&B says preempted)",
}


_UNREACHABLE = re.compile(r"giving up after|dial tcp|connection refused|timeout|HTTP 5\d\d", re.I)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def _iso(value: object) -> str | None:
    """W&B's timestamps are UTC, mostly without a zone; write them as the local store does."""
    when = parse_time(value)
    return when.isoformat(timespec="seconds") if when else None


def run_from_wandb(raw: Any) -> Run:
    """Our Run from a ``wandb.apis.public.Run`` (read only through its public attributes)."""
    config: Mapping[str, Any] = raw.config if isinstance(raw.config, Mapping) else {}
    summary = raw.summary_metrics if isinstance(raw.summary_metrics, Mapping) else {}
    tags = tuple(t for t in (raw.tags or ()) if isinstance(t, str))
    state = RunState.parse(raw.state)
    return Run(
        id=str(raw.id),
        state=state,
        branch=record_str(config.get("branch")),
        commit=record_str(config.get("commit")),
        seed=record_int(config.get("seed")),
        group=record_str(raw.group),
        name=record_str(raw.name),
        url=record_str(raw.url),
        reason=_REASONS.get(str(raw.state)),
        created_at=_iso(raw.created_at),
        ended_at=_iso(raw.heartbeat_at) if state.ended else None,
        config=public(config),
        summary=public(summary),
        tags=tags,
        # W&B keeps no time for a tag: the tag itself stands for "reported".
        reported_at=REPORTED_TAG if REPORTED_TAG in tags else None,
    )


def connect(settings: Settings) -> tuple[Any, str]:
    """A ``wandb.Api`` for ``settings.wandb`` and the entity it works in.

    Imports wandb. Bounded retries and timeouts; no key or a refused key is a one-line
    BackendUnavailable, an unreachable server a StoreError (both exit 2).
    """
    os.environ.setdefault("WANDB_SILENT", "true")  # our one-line errors say it all
    for name, value in RETRIES.items():  # wandb-core's own retries: bounded, user wins
        os.environ.setdefault(name, value)
    import wandb

    wb = settings.wandb
    overrides: dict[str, Any] = {"project": wb.project}
    if wb.base_url:
        overrides["base_url"] = wb.base_url
    if wb.entity:
        overrides["entity"] = wb.entity
    where = wb.base_url or "W&B"
    try:
        api = wandb.Api(overrides=overrides, timeout=API_TIMEOUT_S)
    except wandb.errors.UsageError as exc:
        raise BackendUnavailable(
            f"W&B: no API key (set WANDB_API_KEY; in CI, a repository secret): {_one_line(exc)}"
        ) from exc
    except Exception as exc:  # the client checks the key first: any failure lands here
        text = _one_line(exc)
        refused = isinstance(exc, wandb.errors.AuthenticationError)
        if refused and not _UNREACHABLE.search(text):
            raise BackendUnavailable(f"W&B refused the API key at {where}: {text}") from exc
        raise StoreError(f"cannot reach W&B at {where}: {text}") from exc
    entity = wb.entity or call_wandb("read the key's default entity", lambda: api.default_entity)
    if not entity:
        raise BackendUnavailable("W&B: no entity (set wandb.entity or WANDB_ENTITY)")
    return api, str(entity)


def call_wandb(what: str, call: Callable[[], T]) -> T:
    """Run one W&B API call, turning its errors into one line (exit 2)."""
    import wandb

    try:
        return call()
    except HarnessError:  # already one line, from our own code inside the call
        raise
    except wandb.errors.AuthenticationError as exc:
        raise BackendUnavailable(f"W&B refused the API key: {_one_line(exc)}") from exc
    except Exception as exc:  # an adapter's edge: whatever the client raises is one line
        raise StoreError(f"W&B: cannot {what}: {_one_line(exc)}") from exc


class WandbStore:
    """Reads the runs of ``wandb.entity/wandb.project``; writes only the reported tag."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warnings: list[str] = []
        self._api: Any = None
        self._path: str | None = None
        self._raw: dict[str, Any] = {}
        self._runs: list[Run] | None = None

    # -- connection ----------------------------------------------------------------------
    def _connect(self) -> tuple[Any, str]:
        if self._api is not None and self._path is not None:
            return self._api, self._path
        api, entity = connect(self.settings)
        self._api, self._path = api, f"{entity}/{self.settings.wandb.project}"
        return api, self._path

    def _call(self, what: str, call: Any) -> Any:
        return call_wandb(what, call)

    # -- RunStore ------------------------------------------------------------------------
    def _all(self) -> list[Run]:
        if self._runs is None:
            api, path = self._connect()

            def fetch() -> list[Run]:
                found = api.runs(
                    path,
                    filters={"config.branch": {"$exists": True}},
                    order="-created_at",
                    per_page=PER_PAGE,
                    lazy=False,
                )
                runs: list[Run] = []
                for raw in found:
                    if len(runs) == MAX_RUNS:
                        self.warnings.append(
                            f"W&B project {path} has {len(found)} harness runs; "
                            f"only the newest {MAX_RUNS} were read"
                        )
                        break
                    self._raw[str(raw.id)] = raw
                    runs.append(run_from_wandb(raw))
                return runs

            self._runs = self._call(f"list the runs of {path}", fetch)
        return self._runs

    def runs(
        self, *, branch: str | None = None, states: Iterable[RunState] | None = None
    ) -> list[Run]:
        wanted = set(states) if states is not None else None
        return [
            run
            for run in self._all()
            if (branch is None or run.branch == branch) and (wanted is None or run.state in wanted)
        ]

    def _raw_run(self, run_id: str) -> Any:
        if run_id not in self._raw:
            api, path = self._connect()
            try:
                self._raw[run_id] = api.run(f"{path}/{run_id}")
            except ValueError as exc:  # wandb's RunNotFoundError
                raise StoreError(f"no run {run_id!r} in W&B project {path}") from exc
            except Exception as exc:
                raise StoreError(f"W&B: cannot read run {run_id!r}: {_one_line(exc)}") from exc
        return self._raw[run_id]

    def get(self, run_id: str) -> Run:
        for run in self._runs or ():
            if run.id == run_id:
                return run
        return run_from_wandb(self._raw_run(run_id))

    def curve(self, run_id: str, metric: str) -> list[tuple[int, float]]:
        raw = self._raw_run(run_id)
        try:
            rows = self._call(
                f"read the history of run {run_id}",
                lambda: raw.history(keys=[metric], samples=CURVE_SAMPLES, pandas=False),
            )
        except StoreError as exc:
            self.warnings.append(str(exc))
            return []
        curve = []
        for row in rows if isinstance(rows, list) else []:
            step, value = record_int(row.get("_step")), row.get(metric)
            if step is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                curve.append((step, float(value)))
        return curve

    def log_tail(self, run_id: str, lines: int = 50) -> list[str]:
        if lines <= 0:
            return []
        raw = self._raw_run(run_id)
        try:
            found = self._call(
                f"read the console log of run {run_id}",
                lambda: [line.content for line in raw.console_logs(last=lines)],
            )
        except StoreError as exc:
            self.warnings.append(str(exc))
            return []
        return [str(text)[:MAX_LINE_CHARS] for text in found][-lines:]

    def mark_reported(self, run_ids: Iterable[str]) -> None:
        api, path = self._connect()
        for run_id in run_ids:

            def tag(run_id: str = run_id) -> None:
                raw = api.run(f"{path}/{run_id}")  # fresh and fully loaded: update() sends all
                if REPORTED_TAG not in raw.tags:
                    raw.tags.append(REPORTED_TAG)  # the list update() sends
                    raw.update()

            self._call(f"tag run {run_id} as reported", tag)
        self._runs = None
        self._raw.clear()
