"""OpenAI-compatible chat completions over httpx with SSE streaming.

Works with OpenAI, OpenRouter, Ollama (`/v1`), vLLM and llama.cpp's server: all accept
`POST {base_url}/chat/completions` with `stream: true` and answer with `data:` lines of
`chat.completion.chunk` objects ending in `data: [DONE]`.

Tools: the request offers `tools` (functions with JSON schemas); the answer streams
`delta.tool_calls` fragments — each with an `index`, the first with `id` and
`function.name`, then pieces of `function.arguments` — for one or several (parallel)
calls, and ends with `finish_reason: "tool_calls"`. Calls are assembled by index and
yielded as ToolCallRequested once the stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from assistant_cli.domain.messages import ChatTurn
from assistant_cli.domain.tools import ToolCall, ToolCallRequested, wire_name
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    StreamEvent,
    TextDelta,
    Usage,
    estimated_usage,
)
from assistant_cli.providers.http import HttpProvider, sse_events


class OpenAIProvider(HttpProvider):
    """Chat completions API as documented by OpenAI."""

    default_base_url = "https://api.openai.com/v1"

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [_message(t) for t in request.turns],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = [{"type": "function", "function": {
                "name": wire_name(t.name), "description": t.description,
                "parameters": t.parameters or {"type": "object", "properties": {}}}}
                for t in request.tools]
        max_tokens = self.max_tokens_for(request)
        if max_tokens:
            body["max_tokens"] = max_tokens
        temperature = self.temperature_for(request)
        if temperature is not None:
            body["temperature"] = temperature
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async with self.post_stream(self.endpoint("chat/completions"),
                                    self.body(request)) as response:
            async for event in self._events(response, request):
                yield event

    async def _events(
        self, response: httpx.Response, request: ChatRequest
    ) -> AsyncIterator[StreamEvent]:
        finish: str | None = None
        usage: Usage | None = None
        model: str | None = None
        produced: list[str] = []
        calls = _CallAssembler({wire_name(t.name): t.name for t in request.tools})
        events = sse_events(response)
        async for _name, data in events:
            if data == "[DONE]":
                await self.finish_body(events)
                break
            chunk = self.stream_json(data, "stream chunk")
            if "error" in chunk:  # some servers report mid-stream failures this way
                err = chunk["error"] or {}
                raise ProviderError(
                    f"{self.name} failed mid-answer: {err.get('message', err)}",
                    kind="overload", provider=self.name,
                )
            model = chunk.get("model") or model
            if chunk.get("usage"):
                u = chunk["usage"]
                usage = Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)))
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    produced.append(text)
                    yield TextDelta(text)
                calls.add(delta.get("tool_calls"))
                finish = choice.get("finish_reason") or finish
        for call in calls.done():
            yield ToolCallRequested(call)
        yield Finished(finish, usage or estimated_usage(request, produced), model)


def _message(turn: ChatTurn) -> dict[str, Any]:
    if turn.role == "tool":
        return {"role": "tool", "tool_call_id": turn.tool_call_id, "content": turn.content}
    message: dict[str, Any] = {"role": turn.role, "content": turn.content}
    if turn.tool_calls:
        message["content"] = turn.content or None
        message["tool_calls"] = [{"id": c.call_id, "type": "function", "function": {
            "name": wire_name(c.name), "arguments": c.arguments}} for c in turn.tool_calls]
    return message


class _CallAssembler:
    """Tool calls put together from streamed fragments, by their `index`."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # wire name → our name
        self.parts: dict[int, dict[str, Any]] = {}

    def add(self, fragments: Any) -> None:
        for fragment in fragments or []:
            index = int(fragment.get("index", len(self.parts)))
            call = self.parts.setdefault(index, {"id": "", "name": "", "arguments": []})
            call["id"] = fragment.get("id") or call["id"]
            function = fragment.get("function") or {}
            call["name"] = function.get("name") or call["name"]
            if function.get("arguments"):
                call["arguments"].append(function["arguments"])

    def done(self) -> list[ToolCall]:
        out = []
        for index in sorted(self.parts):
            call = self.parts[index]
            name = self.names.get(call["name"], call["name"])
            out.append(ToolCall(call["id"] or f"call_{index}", name, "".join(call["arguments"])))
        return out
