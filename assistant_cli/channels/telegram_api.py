"""The Bot API calls on every message's path, answered as plain JSON.

getUpdates, sendMessage and editMessageText go through python-telegram-bot's own request
path (`Bot._post`, which every PTB method uses): its request layer, timeouts and error
classes (`RetryAfter`, `BadRequest`, `Forbidden`, ...) exactly as with `Bot.send_message`,
but no `Update`/`Message` objects built from the answer. Building them was a fifth of
serve's CPU at 500 msg/s (benchmarks/load_curve.py --profile), and we read three fields.
Everything else (getMe, commands, webhooks, buttons) uses PTB's objects as before.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import NetworkError


class GatewayBot(Bot):
    """PTB's Bot, plus `raw`: a Bot API call whose answer stays JSON.

    Subclassing Bot is how PTB itself extends it (`telegram.ext.ExtBot`); `Bot.do_api_request`
    would do the same but warns on every call for a method the Bot knows.
    """

    async def raw(self, method: str, params: dict[str, Any], *,
                  read_timeout: float | None = None) -> Any:
        if read_timeout is None:  # the request object's own read timeout
            return await self._post(method, params)
        return await self._post(method, params, read_timeout=read_timeout)


# The read timeout of the polling connection (build_bot); a long poll's own timeout is added.
POLL_READ_TIMEOUT = 10.0


async def get_updates(bot: GatewayBot, offset: int | None, timeout: int, allowed: list[str], *,
                      limit: int | None = None,
                      read_timeout: float = POLL_READ_TIMEOUT) -> list[dict[str, Any]]:
    """A long poll: the updates as the Bot API sent them, oldest first."""
    result = await bot.raw(
        "getUpdates",
        {"offset": offset, "timeout": timeout, "limit": limit, "allowed_updates": allowed},
        read_timeout=read_timeout + timeout)
    if not isinstance(result, list):
        raise NetworkError(f"getUpdates answered {type(result).__name__}, not a list")
    # Every update has an int update_id (the Bot API's promise); one without could be
    # neither stored nor confirmed.
    return [u for u in result if isinstance(u, dict) and type(u.get("update_id")) is int]


async def send_message(bot: GatewayBot, chat_id: int | str, text: str, *, html: bool = False,
                       reply_to: int | None = None) -> int:
    """Send a text; returns the new message's id."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if html:
        params["parse_mode"] = ParseMode.HTML
    if reply_to is not None:
        params["reply_parameters"] = {"message_id": reply_to,
                                      "allow_sending_without_reply": True}
    result = await bot.raw("sendMessage", params)
    return int(result["message_id"])


async def edit_message_text(bot: GatewayBot, chat_id: int | str, message_id: int, text: str, *,
                            html: bool = False) -> None:
    """Replace a message's text."""
    params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
    if html:
        params["parse_mode"] = ParseMode.HTML
    await bot.raw("editMessageText", params)
