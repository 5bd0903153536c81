"""What W&B reads from the environment: offline mode kept inside a run's folder, the run's
identity for a plain ``wandb.init()``, and which process of a multi-process job is rank 0.

Core: plain data about environment variables; never imports wandb.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["RANK_VARIABLES", "branch_tag", "offline_variables", "process_rank"]

# The rank of a process started by torchrun or accelerate (RANK), an MPI launcher
# (deepspeed --launcher openmpi, mpirun), or with only a local rank set. The local
# launcher's rank hook (launchers/startup/sitecustomize.py) reads the same list.
RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "LOCAL_RANK")
MAX_TAG = 64  # W&B's limit on a tag's length


def process_rank(env: Mapping[str, str]) -> int | None:
    """This process's global rank in a multi-process job; None outside one."""
    for name in RANK_VARIABLES:
        text = env.get(name, "").strip()
        if text.isdigit():
            return int(text)
    return None


def offline_variables(run_dir: Path) -> dict[str, str]:
    """W&B offline whatever ``WANDB_API_KEY`` says, writing only inside ``run_dir``.

    The folders are created: wandb needs them to exist.
    """
    values = {
        "WANDB_MODE": "offline",
        "WANDB_ERROR_REPORTING": "false",  # else a telemetry DNS lookup happens
    }
    for name, sub in (
        ("WANDB_DIR", ""),
        ("WANDB_DATA_DIR", "wandb-data"),
        ("WANDB_CACHE_DIR", "wandb-cache"),
        ("WANDB_CONFIG_DIR", "wandb-config"),
    ):
        path = run_dir / sub if sub else run_dir
        path.mkdir(parents=True, exist_ok=True)
        values[name] = str(path)
    return values


def branch_tag(branch: str) -> str:
    """The W&B tag naming a branch: at most 64 characters, no comma (WANDB_TAGS splits on
    commas)."""
    tag = branch.replace(",", "-")
    return tag if len(tag) <= MAX_TAG else tag[: MAX_TAG - 1] + "…"
