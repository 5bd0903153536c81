"""The Claude Code CLI (``claude -p``) as the analysis engine.

By default it runs with no tools (``--tools ""``), no session saved, in an empty temporary
folder, so instructions smuggled into run logs cannot make it read or run anything. With
``analysis.read_checkout`` it may read a read-only checkout of the run's commit with Read,
Grep and Glob only, and nothing else: ``--restricted`` confines the file tools to that
folder, permission prompts are answered "no", deny rules cover ``/proc``, ``/sys``, the
home folder and every writing or running tool, and the process gets a new empty HOME and
only the variables it needs (no token of the workflow reaches it to be read back).
It honours ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` like the SDK;
``HARNESS_CLAUDE_BIN`` picks the executable (default: ``claude`` on PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..config import AnalysisSettings
from ..errors import AnalysisUnavailable

__all__ = ["READ_TOOLS", "ClaudeCodeAnalyst"]

READ_TOOLS = "Read,Grep,Glob"
# Every tool that writes, runs or reaches out, and every path outside the checkout that
# could hold a secret: refused even if a setting elsewhere allowed it.
_DENY = [
    "Write",
    "Edit",
    "MultiEdit",
    "NotebookEdit",
    "Bash",
    "WebFetch",
    "WebSearch",
    "Task",
    "Read(//proc/**)",
    "Read(//sys/**)",
    "Read(//dev/**)",
    "Read(//etc/**)",
    "Read(~/**)",
    "Read(//root/**)",
    "Read(//home/**)",
    "Grep(//proc/**)",
    "Glob(//proc/**)",
]
_PASSED = ("PATH", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "LANG")


class ClaudeCodeAnalyst:
    name = "Claude Code (claude -p)"

    def __init__(self, settings: AnalysisSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = dict(env)
        self.executable = env.get("HARNESS_CLAUDE_BIN") or shutil.which(
            "claude", path=env.get("PATH")
        )

    def command(self, system: str, *, tools: bool) -> list[str]:
        command = [
            str(self.executable),
            "-p",
            "--output-format",
            "json",
            "--model",
            self.settings.model,
            "--system-prompt",
            system,
            "--no-session-persistence",
            "--strict-mcp-config",
        ]
        if not tools:
            return [*command, "--tools", ""]
        settings = {"permissions": {"allow": READ_TOOLS.split(","), "deny": _DENY}}
        return [
            *command,
            "--tools",
            READ_TOOLS,
            "--restricted",
            "--safe-mode",
            "--permission-mode",
            "dontAsk",
            "--permission-prompts",
            "none",
            "--settings",
            json.dumps(settings),
        ]

    def _environment(self, home: str, *, tools: bool) -> dict[str, str]:
        if not tools:
            return self.env
        env = {k: self.env[k] for k in _PASSED if k in self.env}
        env.update(
            HOME=home,
            DISABLE_AUTOUPDATER="1",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
        )
        return env

    def analyze(self, system: str, prompt: str, *, checkout: Path | None = None) -> str:
        if not self.executable:
            raise AnalysisUnavailable(
                "the claude CLI is not installed (npm install -g @anthropic-ai/claude-code)"
            )
        tools = checkout is not None
        with tempfile.TemporaryDirectory(prefix="harness-claude-") as empty:
            try:
                done = subprocess.run(
                    self.command(system, tools=tools),
                    input=prompt,
                    cwd=checkout or empty,
                    env=self._environment(empty, tools=tools),
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
