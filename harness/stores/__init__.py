"""Run stores: where runs are read from. ``open_store`` picks one from Settings."""

from __future__ import annotations

from ..config import Settings
from ..runs import RunStore
from .local import LocalStore
from .wandb import WandbStore

__all__ = ["LocalStore", "WandbStore", "open_store"]


def open_store(settings: Settings) -> RunStore:
    """The store the settings name; the W&B one connects on first use."""
    if settings.backend == "local":
        return LocalStore(settings.home)
    return WandbStore(settings)
