"""Loopback fake of the OpenAI Responses API in WebSocket mode, served from a thread.

`GET /v1/responses` upgrades to a WebSocket (after checking `Authorization: Bearer`); each
`response.create` message is answered with the documented server events, one response at
a time per socket. `GET /v1/models` lists the model over plain HTTP, as the API does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from tests.fakes.loop_thread import AiohttpFake, Hang
from tests.fakes.openai_server import openai_error, split_tokens


@dataclass(frozen=True)
class Reply:
    """Stream this text and complete (or stop as incomplete for `incomplete_reason`)."""

    text: str
    incomplete_reason: str | None = None


@dataclass(frozen=True)
class HandshakeError:
    """Refuse the WebSocket upgrade with this HTTP answer (consumed per connection)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorEvent:
    """Answer response.create with an `error` event, after `after` text deltas."""

    code: str
    message: str
    status: int | None = 400
    error_type: str = "invalid_request_error"
    after: int = 0
    text: str = "partial answer that breaks off"


@dataclass(frozen=True)
class Failed:
    """Start the response, then end it with `response.failed`."""

    code: str = "server_error"
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class CloseAfter:
    """Send n text deltas, then close the socket (code 1011) mid-answer."""

    n_tokens: int
    text: str = "one two three four five"


@dataclass(frozen=True)
class FunctionCalls:
    """Answer with function_call output items, as the Responses API streams them:
    output_item.added (type function_call, call_id, name, arguments ""), argument pieces in
    response.function_call_arguments.delta, .done, output_item.done, response.completed.
    `calls` are (call_id, name, arguments JSON text)."""

    calls: tuple[tuple[str, str, str], ...]


Behaviour: TypeAlias = (Reply | HandshakeError | ErrorEvent | Failed | Hang | CloseAfter
                        | FunctionCalls)


@dataclass(frozen=True)
class RecordedRequest:
    """One response.create event, with the headers of the socket it came on."""

    headers: CIMultiDict[str]
    event: dict[str, Any]


class FakeResponsesWS(AiohttpFake[Behaviour, RecordedRequest]):
    """Responses-API WebSocket server on 127.0.0.1."""

    def __init__(self, *, api_key: str | None = "sk-test-key", model: str = "fake-model",
                 token_delay: float = 0.0, script: Iterable[Behaviour] = (), port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(script, port)
        self.api_key = api_key
        self.ssl_context = ssl_context  # serve wss:// / https:// (e.g. mutual TLS)
        self.model = model
        self.token_delay = token_delay
        self.connections = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reply(self, event: dict[str, Any]) -> str:
        """Echo the last user input item (tests may replace this)."""
        for item in reversed(event.get("input") or []):
            if isinstance(item, dict) and item.get("role") == "user":
                content = item.get("content")
                return "echo: " + (content if isinstance(content, str) else "")
        return "echo: "

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/responses", self._socket)
        app.router.add_get("/v1/models", self._models)

    def _auth_error(self, request: web.Request) -> web.Response | None:
        """The answer to a request without the right key (subclasses check other
        credentials)."""
        if self.api_key is not None and (
            request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            return web.json_response(
                openai_error("Incorrect API key provided.", "invalid_request_error",
                             "invalid_api_key"), status=401)
        return None

    async def _models(self, request: web.Request) -> web.Response:
        refused = self._auth_error(request)
        if refused is not None:
            return refused
        return web.json_response({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 1700000000,
             "owned_by": "fake"}]})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        head = self._peek()
        if isinstance(head, HandshakeError):
            self._next()
            body = head.body if head.body is not None else openai_error(
                f"fake error {head.status}", "server_error")
            return web.json_response(body, status=head.status, headers=dict(head.headers))
        refused = self._auth_error(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        headers = CIMultiDict(request.headers)
        seq = iter(range(1_000_000))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                event = json.loads(msg.data)
            except ValueError:
                event = None
            if not isinstance(event, dict):
                await self._send_error(ws, seq, 400, "invalid_json",
                                       "The message is not valid JSON.")
                continue
            self._record(RecordedRequest(headers, event))
            problem = _invalid(event)
            if problem is not None:
                await self._send_error(ws, seq, 400, problem[0], problem[1])
                continue
            if not await self._answer(ws, seq, event):
                break
        return ws

    async def _send(self, ws: web.WebSocketResponse, seq: Any, kind: str, **data: Any
                    ) -> None:
        await ws.send_str(json.dumps({"type": kind, "sequence_number": next(seq), **data}))

    async def _send_error(self, ws: web.WebSocketResponse, seq: Any, status: int | None,
                          code: str, message: str, error_type: str = "invalid_request_error"
                          ) -> None:
        event: dict[str, Any] = {"error": {"type": error_type, "code": code,
                                           "message": message, "param": None}}
        if status is not None:
            event["status"] = status
        await self._send(ws, seq, "error", **event)

    async def _answer(self, ws: web.WebSocketResponse, seq: Any, event: dict[str, Any]
                      ) -> bool:
        """Play one response; False when the socket should close."""
        behaviour = self._next()
        if isinstance(behaviour, Hang):
            await self._stall()
        if isinstance(behaviour, FunctionCalls):
            await self._function_calls(ws, seq, event, behaviour)
            return True
        text = behaviour.text if isinstance(behaviour, (Reply, ErrorEvent, CloseAfter)) else (
            self.reply(event))
        tokens = split_tokens(text)
        if isinstance(behaviour, ErrorEvent) and behaviour.after == 0:
            await self._send_error(ws, seq, behaviour.status, behaviour.code, behaviour.message,
                                   behaviour.error_type)
            return True
        response = _response(event, "in_progress")
        item = f"msg_{secrets.token_hex(8)}"
        await self._send(ws, seq, "response.created", response=response)
        await self._send(ws, seq, "response.in_progress", response=response)
        await self._send(ws, seq, "response.output_item.added", output_index=0, item={
            "id": item, "type": "message", "status": "in_progress", "role": "assistant",
            "content": []})
        await self._send(ws, seq, "response.content_part.added", item_id=item,
                         output_index=0, content_index=0,
                         part={"type": "output_text", "text": "", "annotations": []})
        if isinstance(behaviour, ErrorEvent):
            tokens = tokens[:behaviour.after]
        if isinstance(behaviour, CloseAfter):
            tokens = tokens[:behaviour.n_tokens]
        for token in tokens:
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            await self._send(ws, seq, "response.output_text.delta", item_id=item,
                             output_index=0, content_index=0, delta=token, logprobs=[])
        if isinstance(behaviour, ErrorEvent):
            await self._send_error(ws, seq, behaviour.status, behaviour.code, behaviour.message,
                                   behaviour.error_type)
            return True
        if isinstance(behaviour, CloseAfter):
            await ws.close(code=1011, message=b"internal error")
            return False
        if isinstance(behaviour, Failed):
            failed = _response(event, "failed")
            failed["error"] = {"code": behaviour.code, "message": behaviour.message}
            await self._send(ws, seq, "response.failed", response=failed)
            return True
        done_text = "".join(tokens)
        await self._send(ws, seq, "response.output_text.done", item_id=item, output_index=0,
                         content_index=0, text=done_text, logprobs=[])
        part = {"type": "output_text", "text": done_text, "annotations": []}
        await self._send(ws, seq, "response.content_part.done", item_id=item, output_index=0,
                         content_index=0, part=part)
        message = {"id": item, "type": "message", "status": "completed", "role": "assistant",
                   "content": [part]}
        await self._send(ws, seq, "response.output_item.done", output_index=0, item=message)
        reason = behaviour.incomplete_reason if isinstance(behaviour, Reply) else None
        final = _response(event, "incomplete" if reason else "completed")
        final["output"] = [message]
        final["incomplete_details"] = {"reason": reason} if reason else None
        final["usage"] = {
            "input_tokens": _input_tokens(event), "output_tokens": len(tokens),
            "total_tokens": _input_tokens(event) + len(tokens),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0}}
        kind = "response.incomplete" if reason else "response.completed"
        await self._send(ws, seq, kind, response=final)
        return True


    async def _function_calls(self, ws: web.WebSocketResponse, seq: Any,
                              event: dict[str, Any], calls: FunctionCalls) -> None:
        response = _response(event, "in_progress")
        await self._send(ws, seq, "response.created", response=response)
        items = []
        for index, (call_id, name, arguments) in enumerate(calls.calls):
            item = {"id": f"fc_{secrets.token_hex(8)}", "type": "function_call",
                    "status": "in_progress", "arguments": "", "call_id": call_id,
                    "name": name}
            await self._send(ws, seq, "response.output_item.added", output_index=index,
                             item=item)
            for start in range(0, len(arguments), 6):
                await self._send(ws, seq, "response.function_call_arguments.delta",
                                 item_id=item["id"], output_index=index,
                                 delta=arguments[start:start + 6])
            await self._send(ws, seq, "response.function_call_arguments.done",
                             item_id=item["id"], output_index=index, arguments=arguments)
            item = {**item, "status": "completed", "arguments": arguments}
            await self._send(ws, seq, "response.output_item.done", output_index=index,
                             item=item)
            items.append(item)
        final = _response(event, "completed")
        final["output"] = items
        final["usage"] = {"input_tokens": _input_tokens(event), "output_tokens": 10,
                          "total_tokens": _input_tokens(event) + 10}
        await self._send(ws, seq, "response.completed", response=final)


def _invalid(event: dict[str, Any]) -> tuple[str, str] | None:
    """(code, message) when a client event breaks the documented rules."""
    if event.get("type") != "response.create":
        return "invalid_type", f"Invalid value: {event.get('type')!r}. Expected 'response.create'."
    if "response" in event:
        # The Realtime API nests fields under "response"; the Responses API does not.
        return "unknown_parameter", "Unknown parameter: 'response'."
    if "stream" in event or "background" in event:
        return "unknown_parameter", "stream and background are not used over WebSocket."
    if not isinstance(event.get("model"), str):
        return "missing_required_parameter", "Missing required parameter: 'model'."
    if not isinstance(event.get("input"), (list, str)):
        return "missing_required_parameter", "Missing required parameter: 'input'."
    return None


def _response(event: dict[str, Any], status: str) -> dict[str, Any]:
    return {"id": f"resp_{secrets.token_hex(12)}", "object": "response",
            "created_at": int(time.time()), "status": status, "error": None,
            "incomplete_details": None, "instructions": event.get("instructions"),
            "max_output_tokens": event.get("max_output_tokens"), "model": event["model"],
            "output": [], "store": event.get("store", True), "usage": None}


def _input_tokens(event: dict[str, Any]) -> int:
    count = len(split_tokens(str(event.get("instructions") or "")))
    for item in event.get("input") or []:
        if isinstance(item, dict):
            count += len(split_tokens(str(item.get("content") or ""))) + 1
    return count


__all__ = [
    "CloseAfter",
    "ErrorEvent",
    "Failed",
    "FakeResponsesWS",
    "FunctionCalls",
    "HandshakeError",
    "Hang",
    "RecordedRequest",
    "Reply",
]
