"""Loopback fake of the OpenAI Chat Completions API, served from a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.loop_thread import AiohttpFake, Hang, HangAfter

__all__ = [
    "Behaviour",
    "Error",
    "FakeOpenAI",
    "Hang",
    "HangAfter",
    "RecordedRequest",
    "Reply",
    "ReplyFn",
    "ToolCalls",
    "content_text",
    "openai_error",
    "split_tokens",
]

_TOKEN_RE = re.compile(r"\S+\s*|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into word-ish stream tokens; joining them gives back the text exactly."""
    return _TOKEN_RE.findall(text)


def openai_error(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Build an error body shaped like the ones api.openai.com returns."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class Reply:
    """Answer normally with this text (streamed or not, as the request asks)."""

    text: str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Error:
    """Answer with an HTTP error; a dict/list body is sent as JSON, a str as plain text."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(
        cls, retry_after: float = 1, *, model: str = "fake-model", kind: str = "requests"
    ) -> Error:
        """429 from a per-minute rate limit: retryable, with Retry-After and x-ratelimit-*."""
        wait = f"{retry_after:g}s"
        return cls(
            429,
            openai_error(
                f"Rate limit reached for {model} in organization org-fake on {kind} per min "
                f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {wait}.",
                kind,
                "rate_limit_exceeded",
            ),
            {
                "Retry-After": f"{retry_after:g}",
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": wait,
                "x-ratelimit-limit-tokens": "40000",
                "x-ratelimit-remaining-tokens": "39990",
                "x-ratelimit-reset-tokens": "15ms",
            },
        )

    @classmethod
    def insufficient_quota(cls) -> Error:
        """429 for an exhausted billing quota: retrying never helps."""
        return cls(
            429,
            openai_error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
        )

    @classmethod
    def server_error(cls) -> Error:
        """500 as OpenAI sends it for transient internal failures."""
        return cls(
            500,
            openai_error(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
            ),
        )

    @classmethod
    def model_not_found(cls, model: str) -> Error:
        """404 for a model id the account cannot use."""
        return cls(404, _model_not_found_body(model))

    @classmethod
    def invalid_api_key(cls) -> Error:
        """401 as for a wrong key, regardless of the key actually sent."""
        return cls(401, _invalid_key_body())


@dataclass(frozen=True)
class ToolCalls:
    """Answer with tool calls, streamed as OpenAI documents them: optional text first, then
    for each call (index 0, 1, ... — parallel calls) a first fragment with `id`, `type` and
    `function.name` (arguments ""), then the arguments in small pieces; finish_reason
    "tool_calls". `calls` are (id, name, arguments JSON text)."""

    calls: tuple[tuple[str, str, str], ...]
    text: str = ""


Behaviour: TypeAlias = Reply | Error | Hang | HangAfter | ToolCalls
ReplyFn: TypeAlias = Callable[[list[dict[str, Any]]], str]


@dataclass(frozen=True)
class RecordedRequest:
    """One request received on /v1/chat/completions."""

    method: str
    path: str
    headers: CIMultiDict[str]
    body: dict[str, Any]
    raw: bytes
    received_at: float
    peer: tuple[str, int] | None = None  # the client's address: equal peers = reused connection

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def last_user_content(self) -> str | None:
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return content_text(message.get("content"))
        return None


def content_text(content: Any) -> str:
    """Text of a message content, which may be a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _model_not_found_body(model: str) -> dict[str, Any]:
    return openai_error(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def _invalid_key_body(key: str = "") -> dict[str, Any]:
    # OpenAI echoes only a redacted key so secrets never end up in logs.
    shown = f"{key[:3]}***{key[-4:]}" if len(key) > 8 else "***"
    return openai_error(
        f"Incorrect API key provided: {shown}. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )


class FakeOpenAI(AiohttpFake[Behaviour, RecordedRequest]):
    """OpenAI-compatible server on 127.0.0.1, usable from sync and async tests alike.

    It runs its own event loop in a daemon thread, so a blocking test (driving a
    subprocess) and an async test (sharing nothing with this loop) can both use it.
    `requests` are the chat-completion requests received.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "sk-test-key",
        model: str = "fake-model",
        extra_models: Iterable[str] = (),
        strict_model: bool = False,
        token_delay: float = 0.0,
        script: Iterable[Behaviour] = (),
        port: int = 0,
    ) -> None:
        super().__init__(script, port)
        self.api_key = api_key
        self.model = model
        self.extra_models = list(extra_models)
        self.strict_model = strict_model
        self.token_delay = token_delay
        # Called with the request's messages for every unscripted reply; tests
        # assign their own function here.
        self.reply: ReplyFn = self.default_reply
        # Consulted when the script is empty: a behaviour for these messages, or None for
        # the plain reply (lets a test answer tool results differently from questions).
        self.decide: Callable[[list[dict[str, Any]]], Behaviour | None] | None = None

    def default_reply(self, messages: list[dict[str, Any]]) -> str:
        """Echo the last user message; what ``reply`` starts out as."""
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return "echo: " + content_text(message.get("content"))
        return "echo: "

    @property
    def models(self) -> list[str]:
        return [self.model, *self.extra_models]

    def user_messages(self) -> list[str]:
        """Last user message text of every recorded request, in arrival order."""
        return [r.last_user_content or "" for r in self.requests]

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)

    # --------------------------------------------------------------- handlers

    def _auth_error(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if not header or scheme.lower() != "bearer":
            # Real OpenAI distinguishes "no key" (code null) from a wrong one.
            body = openai_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
            )
            return self._json(body, status=401)
        if key.strip() != self.api_key:
            return self._json(_invalid_key_body(key.strip()), status=401)
        return None

    @staticmethod
    def _json(
        body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        out = {"x-request-id": f"req_{secrets.token_hex(16)}", **(headers or {})}
        return web.json_response(body, status=status, headers=out)

    def _error_response(self, error: Error) -> web.Response:
        body = error.body
        if body is None:
            body = openai_error(f"fake error {error.status}", "server_error")
        if isinstance(body, str):
            return web.Response(
                text=body,
                status=error.status,
                headers=dict(error.headers),
                content_type="text/plain",
            )
        return self._json(body, status=error.status, headers=error.headers)

    async def _list_models(self, request: web.Request) -> web.Response:
        denied = self._auth_error(request)
        if denied is not None:
            return denied
        created = int(time.time())
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "fake"}
            for model in self.models
        ]
        return self._json({"object": "list", "data": data})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=CIMultiDict(request.headers),
            body=body,
            raw=raw,
            received_at=time.time(),
            peer=request.transport.get_extra_info("peername") if request.transport else None,
        )
        self._record(record)

        denied = self._auth_error(request)
        if denied is not None:
            return denied
        if not isinstance(parsed, dict):
            return self._json(
                openai_error(
                    "We could not parse the JSON body of your request. (HINT: This likely "
                    "means you aren't using your HTTP library correctly. The OpenAI API "
                    "expects a JSON payload, but what was sent was not valid JSON.)",
                    "invalid_request_error",
                ),
                status=400,
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._json(
                openai_error("you must provide a model parameter", "invalid_request_error"),
                status=400,
            )
        if not isinstance(body.get("messages"), list):
            return self._json(
                openai_error(
                    "Missing required parameter: 'messages'.",
                    "invalid_request_error",
                    "missing_required_parameter",
                    "messages",
                ),
                status=400,
            )
        if self.strict_model and model not in self.models:
            return self._json(_model_not_found_body(model), status=404)

        behaviour = self._next()
        stream = body.get("stream") is True
        messages: list[dict[str, Any]] = body["messages"]
        if behaviour is None and self.decide is not None:
            behaviour = self.decide(messages)
        if isinstance(behaviour, ToolCalls):
            return await self._stream_tool_calls(request, body, model, behaviour)

        if isinstance(behaviour, Error):
            return self._error_response(behaviour)
        if isinstance(behaviour, Hang) or (isinstance(behaviour, HangAfter) and not stream):
            await self._stall()
            raise AssertionError("unreachable: _stall only returns by cancellation")
        if isinstance(behaviour, HangAfter):
            text = behaviour.text if behaviour.text is not None else self.reply(messages)
            tokens = split_tokens(text)[: max(behaviour.n_tokens, 0)]
            return await self._stream(request, body, model, tokens, None, stall=True)

        text = behaviour.text if isinstance(behaviour, Reply) else self.reply(messages)
        finish = behaviour.finish_reason if isinstance(behaviour, Reply) else "stop"
        tokens = split_tokens(text)
        if stream:
            return await self._stream(request, body, model, tokens, finish, stall=False)
        return self._json(
            {
                "id": _completion_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish,
                    }
                ],
                "usage": _usage(messages, tokens),
            }
        )

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        tokens: list[str],
        finish_reason: str | None,
        *,
        stall: bool,
    ) -> web.StreamResponse:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        completion_id = _completion_id()
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if include_usage:
                # Documented: every chunk carries "usage": null except the final usage chunk.
                out["usage"] = None
            return out

        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": f"req_{secrets.token_hex(16)}",
            },
        )
        await response.prepare(request)

        async def send(payload: dict[str, Any] | str) -> None:
            data = (
                payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
            )
            await response.write(f"data: {data}\n\n".encode())

        try:
            await send(chunk({"role": "assistant", "content": ""}, None))
            for token in tokens:
                if self.token_delay > 0:
                    await asyncio.sleep(self.token_delay)
                await send(chunk({"content": token}, None))
            if stall:
                await self._stall()
            await send(chunk({}, finish_reason or "stop"))
            if include_usage:
                usage_chunk = chunk({}, None)
                usage_chunk["choices"] = []
                usage_chunk["usage"] = _usage(body.get("messages") or [], tokens)
                await send(usage_chunk)
            await send("[DONE]")
            await response.write_eof()
        except ConnectionResetError:
            # The client went away mid-stream (e.g. killed with SIGKILL); nothing to tell it.
            with contextlib.suppress(Exception):
                if request.transport is not None:
                    request.transport.abort()
        return response


    async def _stream_tool_calls(self, request: web.Request, body: dict[str, Any], model: str,
                                 calls: ToolCalls) -> web.StreamResponse:
        completion_id, created = _completion_id(), int(time.time())
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(delta: dict[str, Any] | None, finish: str | None = None,
                       usage: dict[str, int] | None = None) -> None:
            chunk: dict[str, Any] = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_fake",
                "choices": [] if delta is None else [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                "usage": usage}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        first: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if calls.text:
            first["content"] = ""
        await send(first)
        for token in split_tokens(calls.text):
            await send({"content": token})
        for index, (call_id, name, arguments) in enumerate(calls.calls):
            await send({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                        "function": {"name": name, "arguments": ""}}]})
            for start in range(0, len(arguments), 7):  # fragments cut anywhere, as OpenAI does
                await send({"tool_calls": [{"index": index, "function": {
                    "arguments": arguments[start:start + 7]}}]})
        await send({}, "tool_calls")
        await send(None, usage=_usage(body.get("messages") or [], split_tokens(calls.text)))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _usage(messages: list[Any], completion: list[str]) -> dict[str, int]:
    prompt = sum(
        len(split_tokens(content_text(m.get("content")))) + 1
        for m in messages
        if isinstance(m, dict)
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(completion),
        "total_tokens": prompt + len(completion),
    }
