"""Launchers: where a branch's runs are started. ``open_launcher`` picks one from Settings:
``LocalLauncher`` runs them here, ``WandbLauncher`` queues them on W&B Launch (imported
only when asked for; it never imports wandb at import time either)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..config import Settings
from .local import LaunchedRun, LocalLauncher

if TYPE_CHECKING:
    from .wandb import WandbLauncher

__all__ = ["LaunchedRun", "Launcher", "LocalLauncher", "open_launcher"]


class Launcher(Protocol):
    """What every launcher does: read a branch's own settings at a commit (its
    harness.yaml), the ones its runs will use. How it then starts them differs:
    ``LocalLauncher.launch`` runs the seeds here; ``WandbLauncher.plan`` and ``.queue``
    queue them for W&B Launch agents (``pipelines.launch_branch`` drives both)."""

    def branch_settings(self, branch: str, commit: str) -> Settings:
        """The branch's own settings at ``commit`` (its harness.yaml)."""
        ...


def open_launcher(
    settings: Settings, *, repo: Path, output: Callable[[str], None] | None = None
) -> LocalLauncher | WandbLauncher:
    """The launcher of ``settings.backend``."""
    if settings.backend == "local":
        return LocalLauncher(settings, repo=repo, output=output)
    from .wandb import WandbLauncher

    return WandbLauncher(settings, repo=repo, output=output)
