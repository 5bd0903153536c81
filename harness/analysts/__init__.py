"""Analysis engines: Claude adds a written analysis to the deterministic report."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from ..config import Settings
from .anthropic import AnthropicAnalyst
from .claude_code import ClaudeCodeAnalyst

__all__ = ["Analyst", "AnthropicAnalyst", "ClaudeCodeAnalyst", "open_analyst"]


class Analyst(Protocol):
    name: str

    def analyze(self, system: str, prompt: str, *, checkout: Path | None = None) -> str:
        """The analysis text, or AnalysisUnavailable with a one-line reason. ``checkout``:
        a read-only checkout of the run's commit the engine may read (claude_code only)."""
        ...


def open_analyst(settings: Settings, env: Mapping[str, str] | None = None) -> Analyst | None:
    """The configured engine, or None when analysis is turned off (``engine: none``)."""
    env = os.environ if env is None else env
    if settings.analysis.engine == "anthropic":
        return AnthropicAnalyst(settings.analysis, env)
    if settings.analysis.engine == "claude_code":
        return ClaudeCodeAnalyst(settings.analysis, env)
    return None
