"""The Anthropic API as the analysis engine (the real ``anthropic`` SDK; imported lazily).

``ANTHROPIC_BASE_URL`` points it at another server (the tests' local one). Every failure,
from a missing key to an overloaded API, becomes AnalysisUnavailable with a one-line reason,
so the deterministic report still goes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..config import AnalysisSettings
from ..errors import AnalysisUnavailable

__all__ = ["AnthropicAnalyst"]


class AnthropicAnalyst:
    name = "Claude (Anthropic API)"

    def __init__(self, settings: AnalysisSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.api_key = env.get("ANTHROPIC_API_KEY", "")
        self.base_url = env.get("ANTHROPIC_BASE_URL") or None

    def analyze(self, system: str, prompt: str, *, checkout: Path | None = None) -> str:
        del checkout  # the API engine reads nothing but the prompt
        if not self.api_key:
            raise AnalysisUnavailable("ANTHROPIC_API_KEY is not set")
        try:
            import anthropic
        except ImportError as exc:
            raise AnalysisUnavailable("the anthropic package is not installed") from exc
        client = anthropic.Anthropic(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.settings.timeout_s,
            max_retries=self.settings.retries,
        )
        try:
            with client:  # its connections are closed when the answer is in
                message = client.messages.create(
                    model=self.settings.model,
                    max_tokens=self.settings.max_tokens,
                    system=system,
                    messages=[{"role": "user", "content": prompt}],
                )
        except anthropic.APITimeoutError as exc:
            raise AnalysisUnavailable(
                f"the Anthropic API did not answer within {self.settings.timeout_s:g}s"
            ) from exc
        except anthropic.APIStatusError as exc:
            raise AnalysisUnavailable(f"the Anthropic API answered {exc.status_code}") from exc
        except anthropic.APIError as exc:  # connection errors, responses of the wrong shape
            raise AnalysisUnavailable(f"the Anthropic API failed: {type(exc).__name__}") from exc
        except ValueError as exc:  # a body that is not JSON
            raise AnalysisUnavailable("the Anthropic API returned an unreadable response") from exc
        try:
            text = "".join(block.text for block in message.content if block.type == "text")
        except (AttributeError, TypeError) as exc:
            raise AnalysisUnavailable("the Anthropic API returned an unreadable response") from exc
        if not text.strip():
            raise AnalysisUnavailable("the Anthropic API returned no text")
        return text
