"""The Telegram webhook endpoint on the gateway: authenticate, bound, parse, then hand over."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("assistant_cli.channels.telegram")

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000
# What Telegram accepts as setWebhook's secret_token.
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Takes a decoded update, returns the HTTP status to answer Telegram with.
Deliver = Callable[[dict[str, Any]], Awaitable[int]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answer(status: int, error: str | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": status == 200}
    if error:
        body["error"] = error
    return web.json_response(body, status=status)


def make_handler(secret: str, deliver: Deliver, max_body: int = MAX_BODY) -> Handler:
    """An aiohttp handler for POST /webhooks/telegram.

    401 without the right secret header, 413 over `max_body`, 400 for anything that is not a
    JSON update; otherwise whatever `deliver` says (200 once stored, 503 before the channel
    runs, so that Telegram keeps the update and tries again).
    """
    expected = secret.encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        supplied = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(supplied, expected):
            log.warning("telegram webhook call with a wrong or missing secret from %s",
                        request.remote, extra={"event": "telegram.webhook_denied"})
            return _answer(401, "unauthorized")
        if request.content_length is not None and request.content_length > max_body:
            return _answer(413, "body too large")
        body = bytearray()
        # Read in pieces so an endless body is cut off at the limit, not buffered whole.
        async for piece in request.content.iter_chunked(65536):
            body.extend(piece)
            if len(body) > max_body:
                return _answer(413, "body too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _answer(400, "body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return _answer(400, "not a Telegram update")
        status = await deliver(data)
        return _answer(status, None if status == 200 else "not stored")

    return handle
