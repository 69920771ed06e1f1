"""Bot API requests that log their HTTP status and latency (never the URL: it holds the token).

So that `assistant-cli logs --channel telegram --grep platform.response` answers the first
troubleshooting question, "what did the platform answer, and how fast?", from the log alone.
`log_response` is shared by every transport (httpx here, aiohttp in telegram_aiohttp.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any

from telegram.request import HTTPXRequest

log = logging.getLogger("assistant_cli.channels.telegram")
_CHATTER = frozenset({"sendChatAction", "sendMessageDraft", "editMessageText"})


async def log_response(url: str, call: Awaitable[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Await one Bot API call and write its `platform.response` record."""
    api_method = url.rsplit("/", 1)[-1]
    started = time.monotonic()
    try:
        status, payload = await call
    except Exception as exc:
        _record(api_method, None, started, type(exc).__name__)
        raise
    # A long poll that returned normally says nothing; anything else is worth a line.
    if api_method != "getUpdates" or status != 200:
        _record(api_method, status, started, None)
    return status, payload


class LoggingRequest(HTTPXRequest):
    """HTTPXRequest plus one `platform.response` record per call."""

    async def do_request(self, url: str, method: str, *args: Any,
                         **kwargs: Any) -> tuple[int, bytes]:
        return await log_response(url, super().do_request(url, method, *args, **kwargs))


def _record(api_method: str, status: int | None, started: float, error: str | None) -> None:
    latency = round((time.monotonic() - started) * 1000, 1)
    fields: dict[str, Any] = {"channel": "telegram", "method": api_method, "status": status,
                              "latency_ms": latency}
    if error:
        fields["error"] = error
    if status is None or status >= 400:
        level = logging.WARNING
    else:  # streaming sends many of these; they only matter when they fail
        level = logging.DEBUG if api_method in _CHATTER else logging.INFO
    log.log(level, "telegram %s answered %s in %.0f ms", api_method,
            status if status is not None else error, latency,
            extra={"event": "platform.response", "fields": fields})
