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
    ResponseInfo,
    StreamEvent,
    TextDelta,
    Usage,
    estimate_tokens,
)
from assistant_cli.providers.errors import classify_http_error, network_error

log = logging.getLogger("assistant_cli.providers.openai")


class OpenAIProvider(Provider):
    """Chat completions API as documented by OpenAI."""

    default_base_url = "https://api.openai.com/v1"
    _client: httpx.AsyncClient | None = None

    async def headers(self) -> dict[str, str]:
        return {"Accept": "text/event-stream", **self.config.headers,
                **await self.auth.headers()}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
            self._client = httpx.AsyncClient(timeout=timeout, verify=self.auth.httpx_verify())
        return self._client

    def _note(self, response: httpx.Response, started: float) -> float:
        latency = round((time.monotonic() - started) * 1000, 1)
        self.last_response = ResponseInfo(response.status_code, latency, dict(response.headers))
        return latency

    def _refused(self, response: httpx.Response) -> ProviderError:
        return self.auth.refused(classify_http_error(self.name, response))

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
        body = self.body(request)
        for attempt in (1, 2):
            started = time.monotonic()
            try:
                async with self.client.stream(
                    "POST", url, json=body, headers=await self.headers()
                ) as response:
                    latency = self._note(response, started)
                    log.info(
                        "%s answered %s", self.name, response.status_code,
                        extra={"event": "provider.response", "fields": {
                            "provider": self.name, "status": response.status_code,
                            "latency_ms": latency}},
                    )
                    if response.status_code >= 400:
                        await response.aread()
                        # An OAuth token can be revoked or expire early: refresh once.
                        if (response.status_code == 401 and attempt == 1
                                and await self.auth.refresh_after_401()):
                            continue
                        raise self._refused(response)
                    async for event in self._events(response, request):
                        yield event
                    return
            except httpx.HTTPError as exc:
                raise self.auth.annotate(network_error(self.name, url, exc)) from None

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
        started = time.monotonic()
        try:
            response = await self.client.get(url, headers=await self.headers())
        except httpx.HTTPError as exc:
            raise self.auth.annotate(network_error(self.name, url, exc)) from None
        self._note(response, started)
        if response.status_code >= 400:
            raise self._refused(response)
        try:
            return sorted(str(m["id"]) for m in response.json().get("data", []))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProviderError(f"{self.name}: {url} did not answer with a model list",
                                kind="bad_request", provider=self.name) from None

    async def health_check(self) -> ResponseInfo:
        """The cheapest authenticated call the API has: listing models."""
        await self.list_models()
        assert self.last_response is not None
        return self.last_response

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
