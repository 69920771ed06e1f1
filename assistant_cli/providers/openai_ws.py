"""OpenAI Responses API over a WebSocket (kind `openai-ws`), with aiohttp's client.

Each turn opens `wss://.../responses` (the scheme derived from base_url's http/https) with
`Authorization: Bearer` (API key or OAuth token) and the provider's TLS context, both from
`Provider.auth`, sends one `response.create` event whose fields mirror the body of
`POST /v1/responses` (no `stream` field: streaming is implicit on a socket), and reads
`response.created`, `response.output_text.delta` ... `response.completed` (with usage) or
`response.failed` / `error`. The socket is closed after the turn: the full history goes
with every request (`store: false`), so a kept-open socket would save only a handshake.
The model list and health check are `GET {base_url}/models` over plain HTTP(S), through
the REST adapters' shared `HttpProvider`.

Tools: offered as `tools` of `type: function`; a call arrives as a `function_call` output
item (`call_id`, `name`) whose arguments stream in `response.function_call_arguments.delta`
events, settled by `response.output_item.done`; results go back as
`function_call_output` input items.

aiohttp is imported inside functions: the provider registry loads adapter classes for
`providers add` and `doctor`, which never open a socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from assistant_cli.domain.messages import ChatTurn
from assistant_cli.domain.tools import ToolCall, ToolCallRequested, wire_name
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    ResponseInfo,
    SecretResolver,
    StreamEvent,
    TextDelta,
    Usage,
    estimated_usage,
)
from assistant_cli.providers.errors import classify_reported_error, network_error, stalled_error
from assistant_cli.providers.http import HttpProvider

if TYPE_CHECKING:
    import aiohttp

    from assistant_cli.config.models import ProviderConfig

log = logging.getLogger("assistant_cli.providers.openai_ws")

# HTTP status for error codes the Responses API reports inside the stream without one.
CODE_STATUS = {
    "invalid_api_key": 401,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "model_not_found": 404,
    "server_error": 500,
    "server_is_overloaded": 503,
    "websocket_connection_limit_reached": 429,
}
INCOMPLETE_REASONS = {"max_output_tokens": "length"}


def ws_url(base_url: str) -> str:
    """`{base_url}/responses` with http(s) turned into ws(s); ws(s) URLs pass through."""
    url = base_url.rstrip("/") + "/responses"
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http):]
    return url


def reported_error(name: str, status: int | None, err: dict[str, Any]) -> ProviderError:
    """Classify an `error` event or a failed response's `error` object."""
    code = str(err.get("code") or err.get("type") or "")
    detail = str(err.get("message") or "")
    if status is None:
        status = CODE_STATUS.get(code, 500 if "server" in code else 400)
    return classify_reported_error(name, status, code, detail, when="mid-answer")


class OpenAIWebSocketProvider(HttpProvider):
    """Responses API in WebSocket mode, as documented by OpenAI; the model list (and so
    the health check) over plain HTTP(S) like the REST adapters."""

    default_base_url = "https://api.openai.com/v1"
    url_schemes: ClassVar[tuple[str, ...] | None] = ("http", "https", "ws", "wss")
    _session: aiohttp.ClientSession | None = None

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver, *,
                 transport: httpx.AsyncBaseTransport | None = None,
                 connector: aiohttp.BaseConnector | None = None) -> None:
        """`transport` carries the HTTP calls (model list), `connector` the WebSocket: both
        replace the network layer for tests; the caller keeps owning `connector`."""
        super().__init__(name, config, resolve_secret, transport=transport)
        self.connector = connector

    @property
    def url(self) -> str:
        return ws_url(self.config.base_url)

    def endpoint(self, path: str) -> str:
        """An HTTP(S) address under base_url, also when base_url is ws(s)://."""
        url = super().endpoint(path)
        return "http" + url[2:] if url.startswith("ws") else url

    async def headers(self) -> dict[str, str]:
        return {**self.config.headers, **await self.auth.headers()}

    @property
    def ssl_option(self) -> Any:
        """aiohttp's `ssl` argument: our context, or True for the system's defaults."""
        return self.auth.ssl_context() or True

    def body(self, request: ChatRequest) -> dict[str, Any]:
        instructions = "\n\n".join(t.content for t in request.turns if t.role == "system")
        body: dict[str, Any] = {
            "type": "response.create",
            "model": self.config.model,
            "store": False,
            "input": [item for t in request.turns if t.role != "system"
                      for item in _input_items(t)],
        }
        if request.tools:
            body["tools"] = [{"type": "function", "name": wire_name(t.name),
                              "description": t.description,
                              "parameters": t.parameters or {"type": "object", "properties": {}}}
                             for t in request.tools]
        if instructions:
            body["instructions"] = instructions
        max_tokens = self.max_tokens_for(request)
        if max_tokens:
            body["max_output_tokens"] = max_tokens
        temperature = self.temperature_for(request)
        if temperature is not None:
            body["temperature"] = temperature
        return body

    def session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=min(10.0, self.config.timeout), sock_read=self.config.timeout
            )
            # Every HTTP answer on this session (the upgrade's 101 or refusal) becomes
            # last_response, headers included, for `providers test`.
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(self._on_request_start)
            trace.on_request_end.append(self._on_request_end)
            self._session = aiohttp.ClientSession(
                timeout=timeout, trace_configs=[trace], connector=self.connector,
                connector_owner=self.connector is None)
        return self._session

    async def _on_request_start(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.started = time.monotonic()

    async def _on_request_end(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        latency = round((time.monotonic() - ctx.started) * 1000, 1)
        response = params.response
        self.last_response = ResponseInfo(response.status, latency, dict(response.headers))

    async def _connect(self) -> aiohttp.ClientWebSocketResponse[bool]:
        import aiohttp

        try:
            return await self._handshake()
        except aiohttp.WSServerHandshakeError as exc:
            # An OAuth token can be revoked or expire early: refresh once.
            if exc.status != 401 or not await self.auth.refresh_after_401():
                raise self._handshake_refused(exc) from None
        try:
            return await self._handshake()
        except aiohttp.WSServerHandshakeError as exc:
            raise self._handshake_refused(exc) from None

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse[bool]:
        """Open the socket; a refused upgrade is left to the caller as WSServerHandshakeError."""
        import aiohttp

        started = time.monotonic()
        try:
            ws = await asyncio.wait_for(
                self.session().ws_connect(
                    self.url, headers=await self.headers(), ssl=self.ssl_option,
                    autoping=True, max_msg_size=16 * 1024 * 1024,
                ),
                timeout=self.config.timeout,
            )
        except aiohttp.WSServerHandshakeError:
            raise
        except asyncio.TimeoutError:
            raise stalled_error(self.name, self.url, self.config.timeout) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(self._http_url, exc) from None
        log.info("%s accepted the WebSocket", self.name, extra={
            "event": "provider.response", "fields": {
                "provider": self.name, "status": 101,
                "latency_ms": round((time.monotonic() - started) * 1000, 1)}})
        return ws

    def _handshake_refused(self, exc: aiohttp.WSServerHandshakeError) -> ProviderError:
        # The upgrade was refused with a plain HTTP answer (401, 429, 503 ...); aiohttp
        # keeps its status and headers but not its body.
        response = httpx.Response(exc.status, headers=_retry_header(exc.headers or {}))
        return self._refused(response)

    @property
    def _http_url(self) -> str:
        # network_error names host and port, and knows the default ports of http(s).
        return self.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        import aiohttp

        ws = await self._connect()
        try:
            await ws.send_str(json.dumps(self.body(request)))
            async for event in self._events(ws, request):
                yield event
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise network_error(self.name, self._http_url, exc) from None
        finally:
            await ws.close()

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse[bool]) -> dict[str, Any]:
        """The next JSON event; a close, a stall or garbage becomes a ProviderError."""
        import aiohttp

        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=self.config.timeout)
            except asyncio.TimeoutError:
                raise stalled_error(self.name, self.url, self.config.timeout) from None
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    payload = json.loads(msg.data)
                except json.JSONDecodeError:
                    payload = None
                if not isinstance(payload, dict):
                    raise ProviderError(
                        f"{self.name} sent a malformed event", kind="bad_request",
                        provider=self.name,
                    )
                return payload
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                code = ws.close_code
                raise ProviderError(
                    f"{self.name}: the WebSocket closed before the answer was complete "
                    f"(close code {code})", kind="network", provider=self.name,
                    hint="retry; if it keeps happening, check proxies between here and "
                    "the service",
                )
            # Binary frames are not part of this protocol; pings are answered by aiohttp.

    async def _events(
        self, ws: aiohttp.ClientWebSocketResponse[bool], request: ChatRequest
    ) -> AsyncIterator[StreamEvent]:
        produced: list[str] = []
        calls = _FunctionCalls({wire_name(t.name): t.name for t in request.tools})
        while True:
            event = await self._receive(ws)
            kind = event.get("type")
            calls.add(event)
            if kind == "response.output_text.delta":
                delta = str(event.get("delta") or "")
                if delta:
                    produced.append(delta)
                    yield TextDelta(delta)
            elif kind in ("response.completed", "response.incomplete"):
                response = event.get("response") or {}
                reason = (response.get("incomplete_details") or {}).get("reason")
                finish = INCOMPLETE_REASONS.get(reason, reason) if reason else "stop"
                usage = response.get("usage") or {}
                if "input_tokens" in usage and "output_tokens" in usage:
                    out = Usage(int(usage["input_tokens"]), int(usage["output_tokens"]))
                else:
                    out = estimated_usage(request, produced)
                for call in calls.done():
                    yield ToolCallRequested(call)
                    finish = "tool_calls"
                yield Finished(finish, out, response.get("model"))
                return
            elif kind == "response.failed":
                response = event.get("response") or {}
                raise reported_error(self.name, None, response.get("error") or {})
            elif kind == "error":
                # Documented as {"type": "error", "status": 400, "error": {code, message}};
                # the HTTP streaming variant puts code/message at the top level.
                raw = event.get("error")
                err: dict[str, Any] = raw if isinstance(raw, dict) else event
                status = event.get("status")
                raise reported_error(
                    self.name, status if isinstance(status, int) else None, err
                )
            # response.created, output_item/content_part events and the *.done events
            # repeat what the deltas already said.

    async def aclose(self) -> None:
        await super().aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _input_items(turn: ChatTurn) -> list[dict[str, Any]]:
    if turn.role == "tool":
        return [{"type": "function_call_output", "call_id": turn.tool_call_id,
                 "output": turn.content}]
    items: list[dict[str, Any]] = []
    if turn.content or not turn.tool_calls:
        items.append({"type": "message", "role": turn.role, "content": turn.content})
    items += [{"type": "function_call", "call_id": c.call_id, "name": wire_name(c.name),
               "arguments": c.arguments} for c in turn.tool_calls]
    return items


class _FunctionCalls:
    """function_call output items, their arguments streamed by output_index."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # wire name → our name
        self.items: dict[int, dict[str, Any]] = {}

    def add(self, event: dict[str, Any]) -> None:
        kind, index = event.get("type"), event.get("output_index")
        if not isinstance(index, int):
            return
        item = event.get("item") or {}
        if kind == "response.output_item.added" and item.get("type") == "function_call":
            self.items[index] = {"call_id": item.get("call_id") or item.get("id") or "",
                                 "name": item.get("name") or "", "arguments": [],
                                 "final": None}
        elif kind == "response.function_call_arguments.delta" and index in self.items:
            self.items[index]["arguments"].append(str(event.get("delta") or ""))
        elif kind == "response.output_item.done" and index in self.items:
            self.items[index]["final"] = item.get("arguments")  # the settled text wins

    def done(self) -> list[ToolCall]:
        out = []
        for index in sorted(self.items):
            i = self.items[index]
            arguments = i["final"] if isinstance(i["final"], str) else "".join(i["arguments"])
            out.append(ToolCall(i["call_id"] or f"call_{index}",
                                self.names.get(i["name"], i["name"]), arguments))
        return out


def _retry_header(headers: Any) -> dict[str, str]:
    """Only what classification reads; aiohttp has already decoded any body encoding."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    return {"retry-after": str(value)} if value else {}
