"""The Claude Code CLI (``claude -p``) as the analysis engine, as the original design used.

It runs with no tools (``--tools ""``), no session saved and in an empty temporary folder,
so instructions smuggled into run logs cannot make it read or run anything. It honours
``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` like the SDK; ``HARNESS_CLAUDE_BIN`` picks
the executable (default: ``claude`` on PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping

from ..config import AnalysisSettings
from ..errors import AnalysisUnavailable

__all__ = ["ClaudeCodeAnalyst"]


class ClaudeCodeAnalyst:
    name = "Claude Code (claude -p)"

    def __init__(self, settings: AnalysisSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = dict(env)
        self.executable = env.get("HARNESS_CLAUDE_BIN") or shutil.which(
            "claude", path=env.get("PATH")
        )

    def analyze(self, system: str, prompt: str) -> str:
        if not self.executable:
            raise AnalysisUnavailable(
                "the claude CLI is not installed (npm install -g @anthropic-ai/claude-code)"
            )
        command = [
            self.executable,
            "-p",
            "--output-format",
            "json",
            "--model",
            self.settings.model,
            "--system-prompt",
            system,
            "--tools",
            "",
            "--no-session-persistence",
            "--strict-mcp-config",
        ]
        with tempfile.TemporaryDirectory(prefix="harness-claude-") as empty:
            try:
                done = subprocess.run(
                    command,
                    input=prompt,
                    cwd=empty,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=self.settings.timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise AnalysisUnavailable(
                    f"claude -p did not answer within {self.settings.timeout_s:g}s"
                ) from exc
            except OSError as exc:
                raise AnalysisUnavailable(f"claude -p could not start: {exc.strerror}") from exc
        try:
            result = json.loads(done.stdout)
            text = result["result"]
            failed = bool(result.get("is_error")) or done.returncode != 0
        except (ValueError, KeyError, TypeError) as exc:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
            raise AnalysisUnavailable(
                f"claude -p failed (exit {done.returncode}): {detail}"
            ) from exc
        if failed or not isinstance(text, str) or not text.strip():
            shown = str(text)[:200] if text else "no text"
            raise AnalysisUnavailable(f"claude -p failed: {shown}")
        return text
