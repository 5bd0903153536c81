"""Run stores: where runs are read from. ``open_store`` picks one from Settings."""

from __future__ import annotations

from ..config import Settings
from ..errors import BackendUnavailable
from ..runs import RunStore
from .local import LocalStore

__all__ = ["LocalStore", "open_store"]


def open_store(settings: Settings) -> RunStore:
    if settings.backend == "local":
        return LocalStore(settings.home)
    raise BackendUnavailable(
        "the wandb backend cannot read runs yet (its store adapter is not built); "
        "use --backend local or HARNESS_BACKEND=local"
    )
