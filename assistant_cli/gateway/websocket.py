"""One WebSocket client of the gateway: authenticate the upgrade, answer requests, push events.

Limits that keep a bad client from hurting anything else: frames over
`gateway.max_frame_bytes` close the connection (1009); frames beyond a small rate get an
error instead of work, and a client that keeps flooding is disconnected (1008); a client
that stops reading is cut off once a send has been stuck for `SEND_TIMEOUT` seconds; the
heartbeat closes half-open connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from assistant_cli import __version__
from assistant_cli.errors import AssistantError
from assistant_cli.gateway.auth import Refusal, client_address
from assistant_cli.gateway.protocol import (
    HELLO,
    ProtocolError,
    encode_hello,
    parse_request,
    response_error,
    response_ok,
)

if TYPE_CHECKING:
    from assistant_cli.gateway.auth import Authenticator
    from assistant_cli.gateway.hub import EventHub, Outbox
    from assistant_cli.gateway.methods import Methods

log = logging.getLogger("assistant_cli.gateway.ws")

SEND_TIMEOUT = 10.0
HEARTBEAT = 20.0
RATE_PER_SECOND = 20.0
RATE_BURST = 40.0
MAX_REFUSED = 100  # then the client is disconnected (1008)


class RateLimit:
    """A token bucket: `burst` requests at once, `rate` per second after that."""

    def __init__(self, rate: float = RATE_PER_SECOND, burst: float = RATE_BURST) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def refuse(refusal: Refusal) -> web.Response:
    """An HTTP refusal the client can act on: the reason phrase and WWW-Authenticate say why."""
    # Clients cannot read the body of a refused upgrade, so the code goes in a header too.
    headers = {"X-Assistant-Error": refusal.code}
    if refusal.status == 401:
        headers["WWW-Authenticate"] = (f'Bearer realm="assistant-cli", error="invalid_token", '
                                       f'error_description="{refusal.code}"')
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return web.json_response({"error": {"code": refusal.code, "message": refusal.message}},
                             status=refusal.status, reason=refusal.code.replace("_", " "),
                             headers=headers)


class Session:
    """A connected, authenticated client."""

    def __init__(self, ws: web.WebSocketResponse, transport: Any, claims: dict[str, Any],
                 methods: Methods, outbox: Outbox, remote: str) -> None:
        self.ws = ws
        self.transport = transport
        self.claims = claims
        self.methods = methods
        self.outbox = outbox
        self.remote = remote
        self.send_started: float | None = None
        self.sending = 0
        self.rate = RateLimit()
        self.refused = 0  # frames refused in a row by the rate limit
        self.expiring = False

    async def send(self, text: str) -> None:
        # Sends normally finish without waiting; only a client that stopped reading makes
        # one wait, and the watchdog (`stalled`) cuts such a client off. Events and answers
        # are sent by two tasks, so the clock measures time without progress: it restarts
        # whenever a send completes and stops when none is waiting.
        self.sending += 1
        if self.send_started is None:
            self.send_started = time.monotonic()
        try:
            await self.ws.send_str(text)
        finally:
            self.sending -= 1
            self.send_started = time.monotonic() if self.sending else None

    def stalled(self, now: float) -> bool:
        return self.send_started is not None and now - self.send_started > SEND_TIMEOUT

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def pump_events(self) -> None:
        while True:
            for frame in await self.outbox.take():
                await self.send(frame)

    async def handle(self, text: str) -> None:
        request_id: Any = None
        try:
            # Every frame counts, parseable or not: garbage is no cheaper to answer.
            allowed = self.rate.allow()
            self.refused = 0 if allowed else self.refused + 1
            if self.refused > MAX_REFUSED:
                await self.ws.close(code=1008, message=b"too many requests")
                return
            request_id, method, params = parse_request(text)
            if not allowed:
                raise ProtocolError("rate_limited", "too many requests; slow down", request_id)
            result = await self.methods.call(method, params, self.claims)
        except ProtocolError as exc:
            await self.send(response_error(exc.request_id if exc.request_id is not None
                                           else request_id, exc.code, exc.message))
            return
        except AssistantError as exc:  # e.g. the keyring holding the audit key is unreachable
            await self.send(response_error(request_id, "unavailable", str(exc)))
            return
        except Exception as exc:
            log.exception("gateway method failed", extra={"event": "gateway.method_failed"})
            await self.send(response_error(request_id, "internal", f"{type(exc).__name__}"))
            return
        await self.send(response_ok(request_id, result))


async def websocket_handler(request: web.Request, *, auth: Authenticator, methods: Methods,
                            hub: EventHub, sessions: set[Session],
                            max_frame_bytes: int) -> web.StreamResponse:
    """GET /ws: refuse with 401/403/429 before upgrading, or serve the client until it goes."""
    checked = auth.check(request)
    if isinstance(checked, Refusal):
        return refuse(checked)
    claims = checked
    ws = web.WebSocketResponse(max_msg_size=max_frame_bytes, heartbeat=HEARTBEAT,
                               compress=False)
    transport = request.transport
    await ws.prepare(request)
    remote = client_address(request, auth.proxies)  # behind a trusted proxy: the real client
    outbox = hub.attach()
    session = Session(ws, transport, claims, methods, outbox, remote)
    sessions.add(session)
    log.info("dashboard client %s connected from %s", claims["sub"], remote, extra={
        "event": "gateway.connected", "fields": {"sub": claims["sub"], "remote": remote}})
    outbox.offer(HELLO, time.time(), encode_hello(__version__, claims["sub"], claims["exp"]))
    pump = asyncio.create_task(session.pump_events(), name=f"ws-events-{remote}")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await session.send(response_error(None, "bad_request",
                                                  "binary frames are not accepted; send JSON text"))
            elif msg.type == WSMsgType.ERROR:
                break
    except ConnectionResetError:
        pass
    finally:
        hub.detach(outbox)
        sessions.discard(session)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        log.info("dashboard client %s disconnected", claims["sub"], extra={
            "event": "gateway.disconnected",
            "fields": {"sub": claims["sub"], "code": ws.close_code, "dropped": outbox.dropped}})
    return ws
