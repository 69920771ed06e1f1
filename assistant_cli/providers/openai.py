"""OpenAI-compatible chat completions over httpx with SSE streaming.

Works with OpenAI, OpenRouter, Ollama (`/v1`), vLLM and llama.cpp's server: all accept
`POST {base_url}/chat/completions` with `stream: true` and answer with `data:` lines of
`chat.completion.chunk` objects ending in `data: [DONE]`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    Provider,
    StreamEvent,
    TextDelta,
    Usage,
    estimate_tokens,
)
from assistant_cli.providers.errors import classify_http_error, network_error

log = logging.getLogger("assistant_cli.providers.openai")


class OpenAIProvider(Provider):
    """Chat completions API as documented by OpenAI."""

    _client: httpx.AsyncClient | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", **self.config.headers}
        if self.config.api_key:
            key = self.resolve_secret(self.config.api_key, f"providers.{self.name}.api_key")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
            self._client = httpx.AsyncClient(timeout=timeout)
        return self._client

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": t.role, "content": t.content} for t in request.turns],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens:
            body["max_tokens"] = max_tokens
        temperature = request.temperature if request.temperature is not None else (
            self.config.temperature
        )
        if temperature is not None:
            body["temperature"] = temperature
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        started = time.monotonic()
        try:
            async with self.client.stream(
                "POST", url, json=self.body(request), headers=self.headers()
            ) as response:
                log.info(
                    "%s answered %s", self.name, response.status_code,
                    extra={"event": "provider.response", "fields": {
                        "provider": self.name, "status": response.status_code,
                        "latency_ms": round((time.monotonic() - started) * 1000, 1)}},
                )
                if response.status_code >= 400:
                    await response.aread()
                    raise classify_http_error(self.name, response)
                async for event in self._events(response, request):
                    yield event
        except httpx.HTTPError as exc:
            raise network_error(self.name, url, exc) from None

    async def _events(
        self, response: httpx.Response, request: ChatRequest
    ) -> AsyncIterator[StreamEvent]:
        finish: str | None = None
        usage: Usage | None = None
        model: str | None = None
        produced: list[str] = []
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # comments (": keep-alive"), event names and blank separators
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise ProviderError(
                    f"{self.name} sent a malformed stream chunk", kind="bad_request",
                    provider=self.name,
                ) from None
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
        if usage is None:
            prompt = sum(estimate_tokens(t.content) for t in request.turns)
            usage = Usage(prompt, estimate_tokens("".join(produced)), estimated=True)
        yield Finished(finish, usage, model)

    async def list_models(self) -> list[str]:
        """Model ids from `GET {base_url}/models`."""
        url = self.config.base_url.rstrip("/") + "/models"
        try:
            response = await self.client.get(url, headers=self.headers())
        except httpx.HTTPError as exc:
            raise network_error(self.name, url, exc) from None
        if response.status_code >= 400:
            raise classify_http_error(self.name, response)
        return sorted(m["id"] for m in response.json().get("data", []))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
