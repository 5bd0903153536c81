"""Launchers: where a branch's runs are started. ``open_launcher`` picks one from Settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..config import Settings
from ..errors import BackendUnavailable
from ..launches import LaunchRecord
from .local import LaunchedRun, LocalLauncher

__all__ = ["LaunchedRun", "Launcher", "LocalLauncher", "open_launcher"]


class Launcher(Protocol):
    """Starts a branch's runs: here (LocalLauncher) or on W&B Launch (a later adapter)."""

    def branch_settings(self, branch: str, commit: str) -> Settings:
        """The branch's own settings at ``commit`` (its harness.yaml)."""
        ...

    def launch(
        self,
        branch: str,
        *,
        seeds: int | None = None,
        timeout_s: float | None = None,
        record: LaunchRecord | None = None,
    ) -> list[LaunchedRun]: ...


def open_launcher(
    settings: Settings, *, repo: Path, output: Callable[[str], None] | None = None
) -> Launcher:
    if settings.backend == "local":
        return LocalLauncher(settings, repo=repo, output=output)
    raise BackendUnavailable(
        "the wandb backend queues runs on W&B Launch (launch-job --backend wandb, "
        "harness.launchers.wandb) and starts none here; use --backend local to run them here"
    )
