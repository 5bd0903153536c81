"""A local server speaking the Anthropic Messages API (POST /v1/messages), for tests.

The real ``anthropic`` SDK talks to it through ANTHROPIC_BASE_URL. Modes reproduce what
the analysis must survive: a normal answer, overloaded (529), a server error, a reply too
slow for the client's timeout, a body that is not JSON, and (``tools``) a model that asks
for tool calls before it answers. Requests are recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeAlias

from .base import LocalServer, QuietHandler

ToolCall: TypeAlias = tuple[str, dict[str, Any]]
ToolCalls: TypeAlias = list[ToolCall] | Callable[[], list[ToolCall]]


class AnthropicServer(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.answer = "**What happened** the branch improved accuracy."
        self.delay_s = 3.0
        self.requests: list[dict[str, Any]] = []
        # Mode "tools": the first answer asks for these tool calls (name, input); once the
        # client sends their results back, the answer is ``answer``.
        # (A callable is asked at the first request: paths that exist only by then.)
        self.tool_calls: ToolCalls = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if not self.path.startswith("/v1/messages"):
                    self._send(
                        404,
                        {"type": "error", "error": {"type": "not_found_error", "message": "no"}},
                    )
                    return
                if not (self.headers.get("x-api-key") or self.headers.get("authorization")):
                    error = {"type": "authentication_error", "message": "no key"}
                    self._send(401, {"type": "error", "error": error})
                    return
                request = json.loads(body)
                server.requests.append(
                    {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": request}
                )
                if server.mode == "overloaded":
                    self._send(
                        529,
                        {
                            "type": "error",
                            "error": {"type": "overloaded_error", "message": "Overloaded"},
                        },
                    )
                elif server.mode == "error":
                    self._send(
                        500, {"type": "error", "error": {"type": "api_error", "message": "boom"}}
                    )
                elif server.mode == "garbage":
                    self._raw(200, b"<html>not json</html>", "application/json")
                elif server.mode == "wrongshape":
                    self._send(200, {"id": "msg_1", "content": "not a list of blocks"})
                else:
                    if server.mode == "slow":
                        time.sleep(server.delay_s)
                    if request.get("stream"):
                        self._raw(200, server.stream(request), "text/event-stream")
                    else:
                        self._send(200, server.message(request))
                    return

            def _send(self, status: int, data: dict[str, Any]) -> None:
                self._raw(status, json.dumps(data).encode(), "application/json")

            def _raw(self, status: int, payload: bytes, kind: str) -> None:
                headers = {"content-type": kind}
                if status >= 500:  # the SDK retries: tell it not to wait
                    headers["retry-after-ms"] = "1"
                self.reply(status, payload, headers)

        return Handler

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks the client sent back, from every request."""
        found = []
        for request in self.requests:
            for message in request["body"].get("messages", []):
                content = message.get("content")
                if message.get("role") == "user" and isinstance(content, list):
                    found += [b for b in content if b.get("type") == "tool_result"]
        return found

    def _asks_for_tools(self, request: dict[str, Any]) -> bool:
        if self.mode != "tools":
            return False
        last = (request.get("messages") or [{}])[-1]
        content = last.get("content")
        returned = isinstance(content, list) and any(
            b.get("type") == "tool_result" for b in content if isinstance(b, dict)
        )
        return not returned

    def _blocks(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        if self._asks_for_tools(request):
            calls = self.tool_calls() if callable(self.tool_calls) else self.tool_calls
            return [
                {"type": "tool_use", "id": f"toolu_{i:02d}", "name": name, "input": args}
                for i, (name, args) in enumerate(calls)
            ]
        return [{"type": "text", "text": self.answer}]

    def message(self, request: dict[str, Any]) -> dict[str, Any]:
        """A Message as the API returns it (the SDK validates this shape)."""
        blocks = self._blocks(request)
        return {
            "id": f"msg_{len(self.requests):04d}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", "claude"),
            "content": blocks,
            "stop_reason": "tool_use" if blocks[0]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 50},
        }

    def stream(self, request: dict[str, Any]) -> bytes:
        """The same answer as server-sent events, as the streaming API sends it."""
        message = self.message(request)
        start = {**message, "content": [], "stop_reason": None}
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                opened = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                opened = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            events += [
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opened},
                ),
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                ),
                ("content_block_stop", {"type": "content_block_stop", "index": index}),
            ]
        events += [
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": 50},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return "".join(
            f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events
        ).encode()
