"""OpenAI-compatible chat completions over httpx with SSE streaming.

Works with OpenAI, OpenRouter, Ollama (`/v1`), vLLM and llama.cpp's server: all accept
`POST {base_url}/chat/completions` with `stream: true` and answer with `data:` lines of
`chat.completion.chunk` objects ending in `data: [DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

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
            "messages": [{"role": t.role, "content": t.content} for t in request.turns],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
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
                text = (choice.get("delta") or {}).get("content")
                if text:
                    produced.append(text)
                    yield TextDelta(text)
                finish = choice.get("finish_reason") or finish
        yield Finished(finish, usage or estimated_usage(request, produced), model)
