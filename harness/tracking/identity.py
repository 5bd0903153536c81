"""Who a run is (id, branch, commit, seed, store) and where W&B may write.

The identity comes from the launcher: on a W&B Launch agent, the run config it hands the
run (``WANDB_CONFIG``: branch, commit, seed, group) and ``WANDB_RUN_ID``, and the run is
online; with the local launcher, its environment (``HARNESS_RUN_ID``, ``HARNESS_RUN_DIR``,
``HARNESS_HOME``, ``HARNESS_BRANCH``, ``HARNESS_COMMIT``, ``HARNESS_SEED``), never the
working directory (the worktree is deleted after the run). A script started by hand reads
branch and commit from git instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..git import Git
from ..manifest import new_run_id
from ..wandb_env import offline_variables, process_rank

__all__ = [
    "RunIdentity",
    "launch_config",
    "offline_environment",
    "resolve_identity",
    "tracking_disabled",
]


@dataclass(frozen=True)
class RunIdentity:
    run_id: str
    run_dir: Path | None  # None with the wandb backend: no local store
    branch: str
    commit: str | None
    seed: int | None
    launched: bool  # True when a launcher created the run and owns its final state

    @property
    def group(self) -> str:
        return f"{self.branch}@{(self.commit or 'nocommit')[:7]}"


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip().lstrip("-").isdigit() else None


def tracking_disabled(env: Mapping[str, str]) -> str | None:
    """Why this process must not create a run (a rank > 0, or switched off)."""
    if env.get("HARNESS_TRACKING", "").lower() in ("off", "0", "false", "disabled"):
        return "HARNESS_TRACKING is off"
    rank = process_rank(env)
    if rank:
        return f"rank {rank} (only rank 0 tracks)"
    return None


def launch_config(env: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The run config a W&B Launch agent hands the run (``WANDB_CONFIG``, JSON), when it
    carries the branch ``launch-job --backend wandb`` put there; else None."""
    if env.get("WANDB_LAUNCH", "").lower() != "true" or not env.get("WANDB_CONFIG"):
        return None
    try:
        data = json.loads(env["WANDB_CONFIG"])
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("branch"), str):
        return None
    return data


def resolve_identity(settings: Settings, env: Mapping[str, str]) -> RunIdentity:
    launched = launch_config(env)
    if launched is not None:  # on a W&B Launch agent: online, whatever harness.yaml says
        commit = launched.get("commit")
        seed_value = launched.get("seed")
        return RunIdentity(
            run_id=env.get("WANDB_RUN_ID") or new_run_id(),
            run_dir=None,
            branch=str(launched["branch"]),
            commit=commit if isinstance(commit, str) and commit else None,
            seed=seed_value if isinstance(seed_value, int) else None,
            launched=True,
        )
    seed = _int(env.get("HARNESS_SEED"))
    local = settings.backend == "local"
    if env.get("HARNESS_RUN_ID"):
        run_id = env["HARNESS_RUN_ID"]
        run_dir = Path(env["HARNESS_RUN_DIR"]) if env.get("HARNESS_RUN_DIR") else None
        if run_dir is None and local:
            run_dir = settings.home / "runs" / run_id
        return RunIdentity(
            run_id=run_id,
            run_dir=run_dir,
            branch=env.get("HARNESS_BRANCH") or "unknown",
            commit=env.get("HARNESS_COMMIT") or None,
            seed=seed,
            launched=True,
        )
    git = Git(Path.cwd())
    run_id = env.get("WANDB_RUN_ID") or new_run_id()
    return RunIdentity(
        run_id=run_id,
        run_dir=settings.home / "runs" / run_id if local else None,
        branch=env.get("HARNESS_BRANCH") or git.current_branch() or "detached",
        commit=env.get("HARNESS_COMMIT") or git.head_commit(),
        seed=seed,
        launched=False,
    )


def offline_environment(run_dir: Path) -> None:
    """Make W&B run offline, whatever WANDB_API_KEY says, and write only inside ``run_dir``."""
    os.environ.update(offline_variables(run_dir))
    os.environ.setdefault("WANDB_SILENT", "true")
