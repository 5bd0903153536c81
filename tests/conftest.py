"""Fixtures: a clean environment, a fresh repository, the ended runs many tests read, and
the order that keeps every pytest-xdist worker busy. Helpers live in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (
    ISOLATED,
    METRICS_YAML,
    build_ended_runs,
    built_once,
    make_repo,
    session_temp,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The host's HARNESS_*, WANDB_* and ANTHROPIC_* variables never leak into a test."""
    for name in list(os.environ):
        if name.startswith(ISOLATED):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository on branch main with an (uncommitted) harness.yaml."""
    path = make_repo(tmp_path / "repo")
    (path / "harness.yaml").write_text(
        "wandb: {project: test}\nlaunch: {entry_point: train.py}\n" + METRICS_YAML
    )
    return path


@pytest.fixture(scope="session")
def ended_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The store of ``helpers.build_ended_runs``, built once for the session (all workers).

    Read-only: a test that marks runs reported or writes reports works on a copy
    (``fresh_store``) or writes under its own ``tmp_path``."""
    root = built_once(session_temp(tmp_path_factory), "ended-runs", build_ended_runs)
    return root / "repo", root / "store"


# The longest tests start first, so that no worker is left with a long test at the end
# (longest-processing-time-first); within a group, collection order (and each module's
# tests together) is kept. Modules not named come last.
FIRST = {
    "test_demo.py": 0,
    "test_integrations.py": 1,
    "test_workflows.py": 2,
    "test_wandb_launch.py": 3,
    "test_storm.py": 4,
    "test_agent_demo.py": 5,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: FIRST.get(item.path.name, len(FIRST)))
