"""The WhatsApp Cloud API over aiohttp: send text and templates, mark read, classify errors.

Every call goes to `{graph_base_url}/{api_version}/...` with the bearer token. Rate limits
(130429 throughput, 131056 pair rate, 80007 account, 4 app) and transient failures are
retried with back-off here; everything else surfaces as a `GraphError` carrying Graph's
error code, which the channel turns into a template, an event or a clear error.

aiohttp is imported inside functions: `doctor` imports this module for its error codes
without opening a connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant_cli.channels.proxy import env_proxy
from assistant_cli.domain.messages import DeliveryFailure
from assistant_cli.errors import ChannelError

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("assistant_cli.channels.whatsapp")

WINDOW_CLOSED = 131047  # more than 24 hours since the person last wrote: templates only
RATE_LIMITS = frozenset({4, 80007, 130429, 131056})
TOKEN_INVALID = 190
NO_SUCH_OBJECT = 100
MAX_TEXT = 4096
# Refusals that pass with time: unknown/temporary errors, service unavailable, spam rate
# limit, a temporary block. Any other refusal of a send (131026 undeliverable, 131030 not
# an allowed recipient, 100 bad parameter ...) cannot succeed as it is.
TRANSIENT_CODES = frozenset({1, 2, 368, 131000, 131016, 131048, 133004})
BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")  # e.g. US.13491208655302741918
BACKOFF = (1.0, 2.0, 4.0, 8.0)
MAX_RETRY_AFTER = 60.0
DOCTOR_HINT = ("create a new access token (Meta Business Settings → System users → Generate "
               "token, with whatsapp_business_messaging), store it with `assistant-cli secrets "
               "set whatsapp_token` and restart serve; `assistant-cli doctor` checks the setup")


class GraphError(ChannelError):
    """Graph refused a request; `code` is Graph's error code (None for transport failures)."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 details: str = "", retry_after: float | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.details = details
        self.retry_after = retry_after

    @property
    def auth(self) -> bool:
        return self.code == TOKEN_INVALID or self.status == 401

    @property
    def retryable(self) -> bool:
        """Rate limits, Graph's own 5xx and network trouble; never a refusal of the request."""
        if self.auth:
            return False
        return (self.code in RATE_LIMITS or self.status == 429
                or (self.status is not None and self.status >= 500) or self.status is None)


def classify(exc: BaseException) -> DeliveryFailure | None:
    """What a failed Graph send means for sending it again: the one place that decides."""
    if isinstance(exc, GraphError):
        # A rejected token is the owner's to fix, and then the message should still go.
        if exc.retryable or exc.auth or exc.code in TRANSIENT_CODES:
            return DeliveryFailure(False, exc.message, exc.retry_after)
        return DeliveryFailure(True, exc.message)
    if isinstance(exc, ChannelError):  # the channel is not running (yet)
        return DeliveryFailure(False, exc.message)
    return None


def graph_error(status: int, body: Any, headers: Any = None) -> GraphError:
    """Build a GraphError from Graph's `{"error": {...}}` body (or whatever came instead)."""
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = err.get("code") if isinstance(err.get("code"), int) else None
    message = str(err.get("message") or f"HTTP {status}")
    data = err.get("error_data")
    details = str(data.get("details", "")) if isinstance(data, dict) else ""
    retry_after: float | None = None
    raw = headers.get("Retry-After") if headers is not None else None
    if raw:
        try:
            retry_after = min(float(raw), MAX_RETRY_AFTER)
        except ValueError:
            retry_after = None
    text = f"WhatsApp Graph API error {code if code is not None else status}: {message}"
    if details:
        text += f" ({details})"
    if code == TOKEN_INVALID or status == 401:
        text = ("WhatsApp rejected the access token (platforms.whatsapp.access_token): "
                f"{message}")
        return GraphError(text, status=status, code=code, details=details, hint=DOCTOR_HINT)
    return GraphError(text, status=status, code=code, details=details, retry_after=retry_after)


class GraphClient:
    """One phone number's view of the Graph API."""

    def __init__(self, base_url: str, api_version: str, phone_number_id: str, token: str,
                 *, timeout: float = 20.0, backoff: Sequence[float] = BACKOFF,
                 connector: aiohttp.BaseConnector | None = None) -> None:
        """`connector` replaces aiohttp's network layer (tests); the caller keeps owning it."""
        self.connector = connector
        self.phone_number_id = phone_number_id
        self.backoff = tuple(backoff)
        self.url = f"{base_url.rstrip('/')}/{api_version.strip('/')}"
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"}
        self._proxy = env_proxy(self.url)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        """The connection pool, opened on first use (aiohttp wants a running loop)."""
        import aiohttp

        if self._session is None or self._session.closed:
            # aiohttp rather than httpx: every answer costs two Graph calls on the event
            # loop, and aiohttp spends about a fifth of httpx's CPU time per request.
            # Not trust_env: it looks up .netrc and the proxy variables in a thread on every
            # request; the proxy is chosen once instead (channels/proxy.py).
            self._session = aiohttp.ClientSession(
                headers=self._headers, connector=self.connector,
                connector_owner=self.connector is None,
                timeout=aiohttp.ClientTimeout(total=self.timeout,
                                              connect=min(self.timeout, 10.0)))
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)  # lets the closed sockets' transports finish closing

    async def phone_number(self) -> dict[str, Any]:
        """The number's record (display_phone_number, verified_name ...); checks the token."""
        return await self._call("GET", f"/{self.phone_number_id}", retry=False)

    async def send_text(self, to: str, body: str) -> str:
        """Send one text (at most 4096 characters); returns its wamid."""
        return _wamid(await self._call("POST", f"/{self.phone_number_id}/messages", {
            **_addressed(to), "type": "text", "text": {"preview_url": False, "body": body}}))

    async def send_buttons(self, to: str, body: str, buttons: list[tuple[str, str]]) -> str:
        """An interactive message with up to three reply buttons (id, title ≤ 20
        characters); a press comes back as an `interactive` `button_reply` message."""
        return _wamid(await self._call("POST", f"/{self.phone_number_id}/messages", {
            **_addressed(to), "type": "interactive", "interactive": {
                "type": "button", "body": {"text": body[:1024]},
                "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t[:20]}}
                                       for i, t in buttons]}}}))

    async def send_template(self, to: str, name: str, language: str) -> str:
        """Send an approved template (allowed outside the 24-hour window); returns its wamid."""
        return _wamid(await self._call("POST", f"/{self.phone_number_id}/messages", {
            **_addressed(to), "type": "template",
            "template": {"name": name, "language": {"code": language}}}))

    async def mark_read(self, message_id: str, typing: bool = True) -> None:
        """Blue ticks on an inbound message, plus "typing…" for up to 25 s or until we answer."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read",
                                   "message_id": message_id}
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        await self._call("POST", f"/{self.phone_number_id}/messages", payload, retry=False)

    async def _call(self, method: str, path: str, payload: dict[str, Any] | None = None,
                    *, retry: bool = True) -> dict[str, Any]:
        waits = self.backoff if retry else ()
        for attempt in range(len(waits) + 1):
            try:
                return await self._once(method, path, payload)
            except GraphError as exc:
                if not exc.retryable or attempt >= len(waits):
                    raise
                wait = exc.retry_after if exc.retry_after is not None else waits[attempt]
                log.warning("whatsapp: %s; retrying in %.1f s", exc.message, wait, extra={
                    "event": "whatsapp.retry",
                    "fields": {"code": exc.code, "status": exc.status, "wait_s": wait}})
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str,
                    payload: dict[str, Any] | None) -> dict[str, Any]:
        import aiohttp

        started = time.monotonic()
        try:
            async with self._http().request(method, self.url + path, json=payload,
                                            proxy=self._proxy) as resp:
                status, headers, raw = resp.status, resp.headers, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            why = str(exc) or ("no answer within the timeout"
                               if isinstance(exc, asyncio.TimeoutError) else "")
            _log_response(method, path, None, started, type(exc).__name__)
            raise GraphError(f"cannot reach the WhatsApp Graph API at {self.url}: "
                             f"{type(exc).__name__}: {why}") from None
        _log_response(method, path, status, started, None)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            raise graph_error(status, body, headers)
        return body if isinstance(body, dict) else {}


def _log_response(method: str, path: str, status: int | None, started: float,
                  error: str | None) -> None:
    """One `platform.response` record per Graph call: status and latency, for `logs`."""
    latency = round((time.monotonic() - started) * 1000, 1)
    fields: dict[str, Any] = {"channel": "whatsapp", "method": method, "path": path,
                              "status": status, "latency_ms": latency}
    if error:
        fields["error"] = error
    level = logging.INFO if status is not None and status < 400 else logging.WARNING
    log.log(level, "whatsapp %s %s answered %s in %.0f ms", method, path,
            status if status is not None else error, latency,
            extra={"event": "platform.response", "fields": fields})


def _addressed(to: str) -> dict[str, str]:
    """The start of a message body: a wa_id goes in `to`, a business-scoped user id (what
    Meta gives instead of the number of a user with a username) in `recipient`."""
    key = "recipient" if BSUID.fullmatch(to) else "to"
    return {"messaging_product": "whatsapp", "recipient_type": "individual", key: to}


def _wamid(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return str(messages[0].get("id", ""))
    return ""


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut text into pieces of at most `limit` characters, at a paragraph, line or word
    break when there is one in the second half of the piece."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            at = window.rfind(sep)
            if at >= limit // 2:
                cut = at + len(sep)
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip() or rest[:cut])
        rest = rest[cut:]
    if rest.strip() or not pieces:
        pieces.append(rest)
    return pieces
