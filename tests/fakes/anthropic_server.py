"""Loopback fake of the Anthropic Messages API (SSE as documented), served from a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.loop_thread import AiohttpFake, Hang, HangAfter
from tests.fakes.openai_server import split_tokens

VERSION = "2023-06-01"


def anthropic_error(error_type: str, message: str) -> dict[str, Any]:
    """An error body shaped like the ones api.anthropic.com returns."""
    return {"type": "error", "error": {"type": error_type, "message": message},
            "request_id": f"req_{secrets.token_hex(12)}"}


@dataclass(frozen=True)
class Reply:
    """Stream this text, then stop with `stop_reason`."""

    text: str
    stop_reason: str = "end_turn"


@dataclass(frozen=True)
class Error:
    """Answer with an HTTP error and an Anthropic error body."""

    status: int
    error_type: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def invalid_api_key(cls) -> Error:
        return cls(401, "authentication_error", "invalid x-api-key")

    @classmethod
    def permission_denied(cls) -> Error:
        return cls(403, "permission_error",
                   "Your API key does not have permission to use the specified resource.")

    @classmethod
    def not_found(cls, model: str = "fake-claude") -> Error:
        return cls(404, "not_found_error", f"model: {model}")

    @classmethod
    def rate_limited(cls, retry_after: float = 1) -> Error:
        return cls(429, "rate_limit_error",
                   "Number of request tokens has exceeded your per-minute rate limit",
                   {"retry-after": f"{retry_after:g}",
                    "anthropic-ratelimit-requests-limit": "50",
                    "anthropic-ratelimit-requests-remaining": "0",
                    "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:00Z"})

    @classmethod
    def overloaded(cls) -> Error:
        return cls(529, "overloaded_error", "Overloaded")

    @classmethod
    def api_error(cls) -> Error:
        return cls(500, "api_error", "Internal server error")

    @classmethod
    def invalid_request(cls, message: str = "messages: at least one message is required"
                        ) -> Error:
        return cls(400, "invalid_request_error", message)

    @classmethod
    def credit_balance_too_low(cls) -> Error:
        return cls(400, "invalid_request_error",
                   "Your credit balance is too low to access the Anthropic API. Please go to "
                   "Plans & Billing to upgrade or purchase credits.")


@dataclass(frozen=True)
class StreamError:
    """Start streaming, send `after` text deltas, then an SSE `error` event."""

    after: int = 1
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    text: str = "partial answer that breaks off"


@dataclass(frozen=True)
class ToolUse:
    """Answer with tool_use blocks, streamed as Anthropic documents them: optional text
    block first, then per call a content_block_start {type: tool_use, id, name, input: {}}
    and its input as `input_json_delta` pieces (partial_json), stop_reason "tool_use".
    `calls` are (id, name, input JSON text)."""

    calls: tuple[tuple[str, str, str], ...]
    text: str = ""


Behaviour: TypeAlias = Reply | Error | StreamError | Hang | HangAfter | ToolUse


@dataclass(frozen=True)
class RecordedRequest:
    """One request received on /v1/messages."""

    headers: CIMultiDict[str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []


class FakeAnthropic(AiohttpFake[Behaviour, RecordedRequest]):
    """Anthropic-compatible server on 127.0.0.1, usable from sync and async tests alike."""

    def __init__(self, *, api_key: str | None = "sk-ant-test", model: str = "fake-claude",
                 token_delay: float = 0.0, pings: bool = True,
                 script: Iterable[Behaviour] = (), port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(script, port)
        self.api_key = api_key
        self.ssl_context = ssl_context  # serve HTTPS (e.g. requiring client certificates)
        self.model = model
        self.token_delay = token_delay
        self.pings = pings

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reply(self, body: dict[str, Any]) -> str:
        """Echo the last user message (tests may replace this)."""
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                content = message.get("content")
                return "echo: " + (content if isinstance(content, str) else "")
        return "echo: "

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)

    @staticmethod
    def _error(error: Error) -> web.Response:
        headers = {"request-id": f"req_{secrets.token_hex(12)}", **error.headers}
        return web.json_response(anthropic_error(error.error_type, error.message),
                                 status=error.status, headers=headers)

    def _refusal(self, request: web.Request, body: Any) -> web.Response | None:
        """The checks the real API makes before it answers."""
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return self._error(Error.invalid_api_key())
        if not request.headers.get("anthropic-version"):
            return self._error(Error.invalid_request("anthropic-version: header is required"))
        if not isinstance(body, dict):
            return self._error(Error.invalid_request("The request body is not valid JSON."))
        if not isinstance(body.get("max_tokens"), int):
            return self._error(Error.invalid_request("max_tokens: Field required"))
        if not isinstance(body.get("model"), str):
            return self._error(Error.invalid_request("model: Field required"))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(Error.invalid_request())
        for i, message in enumerate(messages):
            if message.get("role") not in ("user", "assistant"):
                return self._error(Error.invalid_request(
                    f"messages.{i}.role: Input should be 'user' or 'assistant'"))
        return None

    async def _models(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("x-api-key") != self.api_key:
            return self._error(Error.invalid_api_key())
        data = [{"type": "model", "id": self.model, "display_name": "Fake Claude",
                 "created_at": "2025-01-01T00:00:00Z"}]
        return web.json_response({"data": data, "has_more": False,
                                  "first_id": self.model, "last_id": self.model})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        self._record(RecordedRequest(CIMultiDict(request.headers),
                                     body if isinstance(body, dict) else {}))
        refused = self._refusal(request, body)
        if refused is not None:
            return refused
        behaviour = self._next()
        if isinstance(behaviour, Error):
            return self._error(behaviour)
        if isinstance(behaviour, ToolUse):
            return await self._stream_tool_use(request, body, behaviour)
        if isinstance(behaviour, Hang):
            await self._stall()
        text = self.reply(body)
        stop_reason: str | None = "end_turn"
        if isinstance(behaviour, Reply):
            text, stop_reason = behaviour.text, behaviour.stop_reason
        elif isinstance(behaviour, (StreamError, HangAfter)):
            text = behaviour.text or text  # HangAfter(n) hangs within the usual reply
        tokens = split_tokens(text)
        if isinstance(behaviour, StreamError):
            tokens = tokens[:behaviour.after]
        elif isinstance(behaviour, HangAfter):
            tokens = tokens[:behaviour.n_tokens]
        if body.get("stream") is not True:
            return web.json_response(self._message(body, text, stop_reason, len(tokens)))
        return await self._stream(request, body, tokens, behaviour)

    def _message(self, body: dict[str, Any], text: str, stop: str | None, out: int
                 ) -> dict[str, Any]:
        return {
            "id": f"msg_{secrets.token_hex(12)}", "type": "message", "role": "assistant",
            "model": body["model"], "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": _input_tokens(body), "output_tokens": out},
        }

    async def _stream(self, request: web.Request, body: dict[str, Any], tokens: list[str],
                      behaviour: Behaviour | None) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
            "request-id": f"req_{secrets.token_hex(12)}"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": event, **data}, separators=(",", ":"))
            await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

        start = self._message(body, "", None, 1)
        try:
            await send("message_start", {"message": start})
            await send("content_block_start",
                       {"index": 0, "content_block": {"type": "text", "text": ""}})
            if self.pings:
                await send("ping", {})
            for token in tokens:
                if self.token_delay:
                    await asyncio.sleep(self.token_delay)
                await send("content_block_delta",
                           {"index": 0, "delta": {"type": "text_delta", "text": token}})
            if isinstance(behaviour, StreamError):
                await send("error", {"error": {"type": behaviour.error_type,
                                               "message": behaviour.message}})
                await response.write_eof()
                return response
            if isinstance(behaviour, HangAfter):
                await self._stall()
            stop = behaviour.stop_reason if isinstance(behaviour, Reply) else "end_turn"
            await send("content_block_stop", {"index": 0})
            await send("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": len(tokens)}})
            await send("message_stop", {})
            await response.write_eof()
        except ConnectionResetError:
            with contextlib.suppress(Exception):
                if request.transport is not None:
                    request.transport.abort()
        return response


    async def _stream_tool_use(self, request: web.Request, body: dict[str, Any],
                               use: ToolUse) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": event, **data}, separators=(",", ":"))
            await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

        await send("message_start", {"message": self._message(body, "", None, 1)})
        index = 0
        if use.text:
            await send("content_block_start",
                       {"index": 0, "content_block": {"type": "text", "text": ""}})
            for token in split_tokens(use.text):
                await send("content_block_delta",
                           {"index": 0, "delta": {"type": "text_delta", "text": token}})
            await send("content_block_stop", {"index": 0})
            index = 1
        for call_id, name, arguments in use.calls:
            await send("content_block_start", {"index": index, "content_block": {
                "type": "tool_use", "id": call_id, "name": name, "input": {}}})
            await send("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": ""}})
            for start in range(0, len(arguments), 5):
                await send("content_block_delta", {"index": index, "delta": {
                    "type": "input_json_delta", "partial_json": arguments[start:start + 5]}})
            await send("content_block_stop", {"index": index})
            index += 1
        await send("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                     "usage": {"output_tokens": 20}})
        await send("message_stop", {})
        await response.write_eof()
        return response


def _input_tokens(body: dict[str, Any]) -> int:
    system = body.get("system") if isinstance(body.get("system"), str) else ""
    words = len(split_tokens(system or ""))
    for message in body.get("messages") or []:
        content = message.get("content")
        words += len(split_tokens(content if isinstance(content, str) else "")) + 1
    return words


__all__ = ["VERSION", "Error", "FakeAnthropic", "Hang", "HangAfter", "RecordedRequest",
           "Reply", "StreamError", "anthropic_error"]
