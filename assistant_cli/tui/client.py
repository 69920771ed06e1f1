"""The dashboard's connection to a gateway: connect, reconnect with backoff, requests, events.

States, with a sentence a person can act on: `connecting`, `connected`, `unreachable`
(nothing answers; retried with backoff), `unauthorized` (the token is refused; retried only
when the user asks, or at once when the dashboard can mint a fresh token itself).

aiohttp is imported inside functions: the dashboard draws its first frame before the
connection library has loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
REQUEST_TIMEOUT = 10.0
MAX_FRAME_BYTES = 8 * 1024 * 1024
CLOSE_TOKEN_EXPIRED = 4001

AUTH_MESSAGES = {
    "token_expired": "the token has expired",
    "bad_signature": "the gateway does not accept this token (signed with another secret)",
    "unknown_key": "the token was signed with a key the gateway does not know (rotated "
                   "away, or another gateway's)",
    "wrong_audience": "the token is not meant for this gateway",
    "bad_algorithm": "the token is not signed the way the gateway requires",
    "missing_token": "no token was sent",
    "malformed": "the token is malformed",
    "bad_origin": "the gateway refuses this client's origin",
}
# Kept short: the banner has three lines at 80 columns.
AUTH_FIX = ("get a fresh URL with `assistant-cli gateway token --url` on the machine running "
            "serve; r retries")
# When this dashboard minted the token itself from this machine's config and it is still
# refused, serve signs with another secret than the config names.
LOCAL_AUTH_FIX = ("serve signs with another secret than this config names (started with "
                  "--jwt-secret?): pass the URL it printed; r retries")


@dataclass
class Target:
    """Where the gateway is and how to prove who we are."""

    base_url: str  # http(s)://host:port, as shown in the header
    token: Callable[[], str]
    ssl_context: ssl.SSLContext | None = None
    refreshable: bool = False  # token() mints a fresh token each call

    @property
    def ws_url(self) -> str:
        return re.sub(r"^http", "ws", self.base_url.rstrip("/")) + "/ws"


class RequestFailed(Exception):
    """The gateway answered a request with an error (or could not be asked)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


StateCallback = Callable[[str, str], None]
EventCallback = Callable[[str, dict[str, Any], float], None]


class GatewayClient:
    """Keeps one WebSocket to the gateway open while `run()` runs."""

    def __init__(self, target: Target, on_event: EventCallback, on_state: StateCallback, *,
                 connector: aiohttp.BaseConnector | None = None) -> None:
        """`connector` replaces aiohttp's network layer (tests); the caller keeps owning it."""
        self.connector = connector
        self.target = target
        self.on_event = on_event
        self.on_state = on_state
        self.state = "connecting"
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._retry = asyncio.Event()
        self._backoff, self._refreshed = BACKOFF_START, False
        self._stopped = False

    def _set(self, state: str, detail: str) -> None:
        self.state = state
        self.on_state(state, detail)

    def _auth_fix(self, code: str) -> str:
        if self.target.refreshable and code in ("bad_signature", "unknown_key"):
            return LOCAL_AUTH_FIX
        return AUTH_FIX

    def retry_now(self) -> None:
        self._retry.set()

    async def _pause(self, seconds: float | None) -> None:
        """Wait `seconds` (forever with None) or until retry_now()."""
        self._retry.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._retry.wait(), seconds)

    async def run(self) -> None:
        import aiohttp

        self._backoff, self._refreshed = BACKOFF_START, False
        async with aiohttp.ClientSession(connector=self.connector,
                                         connector_owner=self.connector is None) as session:
            while not self._stopped:
                self._set("connecting", f"connecting to {self.target.base_url} …")
                ws = await self._connect(session)
                if ws is None:
                    continue
                self._backoff, self._refreshed = BACKOFF_START, False
                await self._stay_connected(ws)
                if self._stopped:
                    break
                if ws.close_code == CLOSE_TOKEN_EXPIRED and not self.target.refreshable:
                    self._set("unauthorized", f"{AUTH_MESSAGES['token_expired']} — {AUTH_FIX}")
                    await self._pause(None)
                    continue
                self._set("unreachable", "connection to the gateway lost; reconnecting …")
                await self._pause(BACKOFF_START)

    async def _connect(self, session: Any) -> Any | None:
        """The WebSocket, or None after saying why not (and waiting as long as that asks)."""
        import aiohttp

        try:
            return await session.ws_connect(
                self.target.ws_url, ssl=self.target.ssl_context or True,
                headers={"Authorization": f"Bearer {self.target.token()}"},
                heartbeat=20.0, max_msg_size=MAX_FRAME_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0))
        except aiohttp.WSServerHandshakeError as exc:
            await self._refused(exc)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            self._set("unreachable", f"gateway unreachable at {self.target.base_url} "
                      f"({_reason(exc)}) — is `assistant-cli serve` running? "
                      f"retrying in {self._backoff:g} s")
            await self._back_off()
        return None

    async def _refused(self, exc: Any) -> None:
        code = _refusal_code(exc)
        if exc.status == 429:
            self._set("unauthorized", f"locked out after too many failed attempts; "
                      f"retrying in {BACKOFF_MAX:.0f} s")
            await self._pause(BACKOFF_MAX)
        elif exc.status in (401, 403):
            if self.target.refreshable and not self._refreshed:
                self._refreshed = True  # a freshly minted token is tried at once
                return
            self._set("unauthorized", f"{AUTH_MESSAGES.get(code, code)} — "
                      f"{self._auth_fix(code)}")
            await self._pause(None)
            self._refreshed = False
        else:
            self._set("unreachable", f"{self.target.base_url} answered HTTP {exc.status} "
                      "instead of the dashboard WebSocket — is this assistant-cli's "
                      f"gateway? retrying in {self._backoff:g} s")
            await self._back_off()

    async def _back_off(self) -> None:
        await self._pause(self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    async def _stay_connected(self, ws: Any) -> None:
        self._ws = ws
        self._set("connected", f"connected to {self.target.base_url}")
        try:
            await self._receive(ws)
        finally:
            self._ws = None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(RequestFailed("disconnected", "connection lost"))
            self._pending.clear()
            with contextlib.suppress(Exception):  # the connection is gone either way
                await ws.close()

    async def _receive(self, ws: Any) -> None:
        import aiohttp

        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type == aiohttp.WSMsgType.ERROR:
                    return
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                continue
            if frame.get("type") == "res":
                fut = self._pending.get(frame.get("id"))  # type: ignore[arg-type]
                if fut is not None and not fut.done():
                    fut.set_result(frame)
            elif frame.get("type") == "event":
                self.on_event(str(frame.get("event")), frame.get("data") or {},
                              float(frame.get("ts") or 0.0))

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      timeout: float = REQUEST_TIMEOUT) -> Any:
        """The method's result; RequestFailed when it failed or we are not connected."""
        ws = self._ws
        if ws is None:
            raise RequestFailed("disconnected", "not connected to the gateway")
        request_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            await ws.send_str(json.dumps({"type": "req", "id": request_id, "method": method,
                                          "params": params or {}}))
            frame = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise RequestFailed("timeout", f"{method}: no answer within {timeout:.0f} s") from None
        except ConnectionError as exc:
            raise RequestFailed("disconnected", str(exc)) from None
        finally:
            self._pending.pop(request_id, None)
        if frame.get("ok"):
            return frame.get("result")
        error = frame.get("error") or {}
        raise RequestFailed(str(error.get("code", "error")), str(error.get("message", "failed")))

    async def stop(self) -> None:
        self._stopped = True
        self._retry.set()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()


def _refusal_code(exc: Any) -> str:
    headers = exc.headers or {}
    if headers.get("X-Assistant-Error"):
        return str(headers["X-Assistant-Error"])
    header = headers.get("WWW-Authenticate", "")
    match = re.search(r'error_description="([^"]+)"', header)
    if match:
        return match.group(1)
    return str(exc.message or "").replace(" ", "_") or f"http_{exc.status}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    inner = getattr(exc, "os_error", None) or exc.__cause__ or exc
    # asyncio's "Connect call failed ('127.0.0.1', 8080)" says less than the errno does.
    number = getattr(inner, "errno", None)
    if isinstance(number, int) and number > 0:
        return os.strerror(number).lower()
    text = getattr(inner, "strerror", None) or str(inner) or type(exc).__name__
    return str(text).lower()
