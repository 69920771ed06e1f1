"""Anthropic Messages API over httpx with SSE streaming.

`POST {base_url}/messages` (base_url `https://api.anthropic.com/v1`) with `stream: true`,
the key in `x-api-key` (an OAuth token as `Authorization: Bearer`; both from
`Provider.auth`) and the API version in `anthropic-version`. The answer arrives as
named SSE events: message_start (input usage), content_block_start/_delta/_stop (text in
`text_delta`s), message_delta (stop reason, output usage), message_stop; `ping` keeps the
stream alive and an `error` event reports a failure after the HTTP 200 (e.g. overloaded).

Tools: offered as `tools` (name, description, input_schema); a call streams as a
`tool_use` content block (id, name) whose input arrives in `input_json_delta` pieces, and
the message stops with `tool_use`. Results go back as `tool_result` blocks in one user
message (all of a round's results together, as the API requires for parallel calls).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant_cli.domain.messages import ChatTurn
from assistant_cli.domain.tools import ToolCall, ToolCallRequested, wire_name
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    ResponseInfo,
    StreamEvent,
    TextDelta,
    Usage,
    estimated_usage,
)
from assistant_cli.providers.errors import classify_http_error, classify_reported_error
from assistant_cli.providers.http import HttpProvider, sse_events

# The API insists on max_tokens; this is used when neither the turn nor config sets one.
DEFAULT_MAX_TOKENS = 1024

# HTTP status Anthropic documents for each error type, for errors reported mid-stream.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# GET /models answers at most this many a page (the API's maximum); more pages are followed.
MODELS_PAGE = 1000
MAX_MODEL_PAGES = 10

# The rest of the project speaks OpenAI's finish reasons.
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                "tool_use": "tool_calls"}


def _quota_error(name: str, status: int | None, detail: str) -> ProviderError:
    return ProviderError(
        f"{name}: the account has no credit left ({detail})", kind="quota", status=status,
        provider=name,
        hint="add credit under Plans & Billing in the Anthropic console, or add a fallback "
        "provider",
    )


def _is_out_of_credit(error_type: str, detail: str) -> bool:
    # Anthropic answers an empty balance with a plain 400 invalid_request_error whose
    # message is the only tell; retrying or failing over to the same account won't help.
    return error_type == "billing_error" or "credit balance" in detail.lower()


def classify_anthropic_error(name: str, response: httpx.Response) -> ProviderError:
    """Map an Anthropic HTTP error answer to a classified ProviderError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    error_type = str(err.get("type") or "") if isinstance(err, dict) else ""
    detail = str(err.get("message") or "") if isinstance(err, dict) else ""
    status = response.status_code
    if _is_out_of_credit(error_type, detail):
        return _quota_error(name, status, detail)
    if status == 403:
        return ProviderError(
            f"{name}: the API key may not use this model or feature (HTTP 403 "
            f"{error_type or 'permission_error'}): {detail}", kind="auth", status=status,
            provider=name,
            hint="check the key's workspace and permissions in the Anthropic console, or "
            f"pick another model in providers.{name}.model",
        )
    exc = classify_http_error(name, response)
    if exc.kind == "bad_request" and exc.hint is None:
        exc.hint = (f"the API refused the request as sent; check providers.{name} (model, "
                    "max_tokens, temperature) and the message above")
    return exc


def stream_error(name: str, payload: dict[str, Any]) -> ProviderError:
    """The ProviderError for an SSE `error` event received after the HTTP 200."""
    err = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    assert isinstance(err, dict)
    error_type = str(err.get("type") or "api_error")
    detail = str(err.get("message") or "")
    if _is_out_of_credit(error_type, detail):
        return _quota_error(name, None, detail)
    return classify_reported_error(
        name, ERROR_STATUS.get(error_type, 500), error_type, detail, when="mid-answer"
    )


class AnthropicProvider(HttpProvider):
    """Messages API as documented by Anthropic."""

    default_base_url = "https://api.anthropic.com/v1"
    request_id_header = "request-id"

    async def headers(self) -> dict[str, str]:
        return {
            "Accept": "text/event-stream",
            "anthropic-version": self.config.anthropic_version,
            **self.config.headers,
            **await self.auth.headers(key_header="x-api-key", key_prefix=""),
        }

    def classify(self, response: httpx.Response) -> ProviderError:
        return classify_anthropic_error(self.name, response)

    def body(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(t.content for t in request.turns if t.role == "system")
        messages = _messages(request.turns)
        body: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": self.max_tokens_for(request) or DEFAULT_MAX_TOKENS,
            "messages": messages,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [{"name": wire_name(t.name), "description": t.description,
                              "input_schema": t.parameters or {"type": "object"}}
                             for t in request.tools]
        temperature = self.temperature_for(request)
        if temperature is not None:
            body["temperature"] = min(temperature, 1.0)  # Anthropic's range is 0-1
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async with self.post_stream(self.endpoint("messages"), self.body(request)) as response:
            async for event in self._events(response, request):
                yield event

    async def _events(
        self, response: httpx.Response, request: ChatRequest
    ) -> AsyncIterator[StreamEvent]:
        answer = _Answer()
        calls = _ToolUses({wire_name(t.name): t.name for t in request.tools})
        events = sse_events(response)
        async for _name, data in events:
            payload = self.stream_json(data, "stream event")
            kind = payload.get("type")
            if kind == "message_stop":
                await self.finish_body(events)
                break
            if kind == "error":
                raise stream_error(self.name, payload)
            if kind in ("content_block_start", "content_block_delta"):
                block = payload.get("content_block") or payload.get("delta") or {}
                calls.add(payload.get("index"), block)
            text = answer.absorb(kind, payload)
            if text:
                yield TextDelta(text)
        else:
            raise ProviderError(
                f"{self.name}: the answer stream ended before message_stop (connection cut?)",
                kind="network", provider=self.name,
                hint="retry; if it keeps happening, check proxies between here and the API",
            )
        for call in calls.done():
            yield ToolCallRequested(call)
        yield answer.finished(request)

    async def list_models(self) -> list[str]:
        """Model ids from `GET {base_url}/models`, following `has_more` pages."""
        ids: list[str] = []
        after: str | None = None
        for _ in range(MAX_MODEL_PAGES):
            page, after = await self._models_page(MODELS_PAGE, after)
            ids += page
            if after is None:
                break
        return sorted(ids)

    async def _models_page(self, limit: int, after: str | None
                           ) -> tuple[list[str], str | None]:
        """(model ids, the id to continue after when there are more)."""
        url = self.endpoint("models")
        params: dict[str, str | int] = {"limit": limit}
        if after:
            params["after_id"] = after
        ids, body = self.model_page(url, await self.get(url, params))
        more = body.get("has_more") is True and body.get("last_id")
        return ids, str(more) if more else None

    async def health_check(self) -> ResponseInfo:
        """The cheapest authenticated call the API has: one page of one model."""
        await self._models_page(1, None)
        assert self.last_response is not None
        return self.last_response


def _content(turn: ChatTurn) -> str | list[dict[str, Any]]:
    if turn.role == "tool":
        return [{"type": "tool_result", "tool_use_id": turn.tool_call_id,
                 "content": turn.content, "is_error": turn.content.startswith("error:")}]
    if not turn.tool_calls:
        return turn.content
    blocks: list[dict[str, Any]] = [{"type": "text", "text": turn.content}] if turn.content else []
    for call in turn.tool_calls:
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except json.JSONDecodeError:
            arguments = {}  # what the model sent was refused as bad JSON; the result says so
        blocks.append({"type": "tool_use", "id": call.call_id, "name": wire_name(call.name),
                       "input": arguments if isinstance(arguments, dict) else {}})
    return blocks


def _messages(turns: tuple[ChatTurn, ...]) -> list[dict[str, Any]]:
    """Alternating user/assistant messages; tool results are user messages."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role == "system":
            continue
        role = "assistant" if turn.role == "assistant" else "user"
        if not messages and role == "assistant":
            continue  # the conversation must open with the user; trimmed history may not
        content = _content(turn)
        if messages and messages[-1]["role"] == role:
            # Roles must alternate; two in a row (an unanswered question, a round's tool
            # results) merge into one message.
            last = messages[-1]
            if isinstance(last["content"], str) and isinstance(content, str):
                last["content"] += "\n\n" + content
            else:
                last["content"] = _blocks(last["content"]) + _blocks(content)
        else:
            messages.append({"role": role, "content": content})
    return messages


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


class _ToolUses:
    """tool_use blocks put together from content_block_start and input_json_delta."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # wire name → our name
        self.blocks: dict[int, dict[str, Any]] = {}

    def add(self, index: Any, block: dict[str, Any]) -> None:
        if block.get("type") == "tool_use" and isinstance(index, int):
            self.blocks[index] = {"id": block.get("id", ""), "name": block.get("name", ""),
                                  "json": []}
        elif block.get("type") == "input_json_delta" and index in self.blocks:
            self.blocks[index]["json"].append(block.get("partial_json") or "")

    def done(self) -> list[ToolCall]:
        out = []
        for index in sorted(self.blocks):
            b = self.blocks[index]
            out.append(ToolCall(b["id"] or f"toolu_{index}", self.names.get(b["name"], b["name"]),
                                "".join(b["json"]) or "{}"))
        return out


def _input_tokens(usage: dict[str, Any]) -> int | None:
    """Prompt tokens, counting cached ones (which Anthropic reports apart)."""
    if "input_tokens" not in usage:
        return None
    return int(usage["input_tokens"]) + sum(
        int(usage.get(k) or 0)
        for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
    )


@dataclass
class _Answer:
    """What the Messages stream has said so far: text, model, stop reason, token counts."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    stop: str | None = None
    model: str | None = None
    produced: list[str] = field(default_factory=list)

    def absorb(self, kind: Any, payload: dict[str, Any]) -> str | None:
        """Take in one event; the text it adds for the user, if any."""
        if kind == "message_start":
            message = payload.get("message") or {}
            self.model = message.get("model") or self.model
            usage = message.get("usage") or {}
            self.input_tokens = _input_tokens(usage)
            self.output_tokens = usage.get("output_tokens", self.output_tokens)
        elif kind in ("content_block_start", "content_block_delta"):
            block = payload.get("content_block") or payload.get("delta") or {}
            # Only text reaches the user; thinking and tool-use blocks are skipped.
            if block.get("type") in ("text", "text_delta") and block.get("text"):
                self.produced.append(block["text"])
                return str(block["text"])
        elif kind == "message_delta":
            self.stop = (payload.get("delta") or {}).get("stop_reason") or self.stop
            usage = payload.get("usage") or {}
            self.output_tokens = usage.get("output_tokens", self.output_tokens)
            self.input_tokens = _input_tokens(usage) or self.input_tokens
        # ping, content_block_stop and event types added later need nothing from us.
        return None

    def finished(self, request: ChatRequest) -> Finished:
        if self.input_tokens is None or self.output_tokens is None:
            usage = estimated_usage(request, self.produced)
        else:
            usage = Usage(int(self.input_tokens), int(self.output_tokens))
        return Finished(STOP_REASONS.get(self.stop or "", self.stop), usage, self.model)
