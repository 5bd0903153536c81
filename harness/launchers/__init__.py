"""Launchers: where a branch's runs are started. ``open_launcher`` picks one from Settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import Settings
from ..errors import BackendUnavailable
from .local import LaunchedRun, LocalLauncher

__all__ = ["LaunchedRun", "LocalLauncher", "open_launcher"]


def open_launcher(
    settings: Settings, *, repo: Path, output: Callable[[str], None] | None = None
) -> LocalLauncher:
    if settings.backend == "local":
        return LocalLauncher(settings, repo=repo, output=output)
    raise BackendUnavailable(
        "the wandb backend cannot launch runs yet (its W&B Launch adapter is not built); "
        "use --backend local or HARNESS_BACKEND=local"
    )
