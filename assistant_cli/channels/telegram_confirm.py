"""Tool confirmations on Telegram: an inline keyboard out, the button press back in as a
`callback_query` (Allow once / Allow in this chat / Always / Deny).

Only the sender the question is for can answer it. A question outlives neither its time
limit nor the process: a press after a restart is told the question expired, and the
resumed turn asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from assistant_cli.domain import tool_texts as texts
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import DECISIONS, ConfirmRequest

log = logging.getLogger("assistant_cli.channels.telegram")
PREFIX = "tc"


@dataclass
class _Pending:
    future: asyncio.Future[str]
    sender_id: str
    tool: str


def keyboard(token: str) -> InlineKeyboardMarkup:
    def button(decision: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(texts.DECISION_LABELS[decision],
                                    callback_data=f"{PREFIX}:{token}:{decision}")

    return InlineKeyboardMarkup([[button("once"), button("chat")],
                                 [button("always"), button("deny")]])


class Confirmations:
    """The questions one bot is waiting on, by a random token carried in callback_data."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    async def ask(self, bot: Bot, chat_id: int | str, msg: InboundMessage,
                  request: ConfirmRequest) -> str | None:
        token = secrets.token_urlsafe(8)
        reply_to = msg.meta.get("message_id") if msg.is_group else None
        reply = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                 if isinstance(reply_to, int) else None)
        sent = await bot.send_message(chat_id, request.prompt, reply_markup=keyboard(token),
                                      reply_parameters=reply)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[token] = _Pending(future, msg.sender_id, request.tool)
        try:
            decision: str | None = await asyncio.wait_for(future, request.timeout)
        except asyncio.TimeoutError:
            decision = None
        finally:
            self._pending.pop(token, None)
        with contextlib.suppress(Exception):  # cosmetic: the decision stands regardless
            await bot.edit_message_text(texts.decided(request.tool, decision or "timeout"),
                                        chat_id=chat_id, message_id=sent.message_id)
        return decision

    async def answered(self, bot: Bot, query: CallbackQuery) -> None:
        """A button was pressed: settle the question it belongs to, and tell Telegram."""
        _, token, decision = ((query.data or "").split(":") + ["", "", ""])[:3]
        pending = self._pending.get(token)
        if pending is None or decision not in DECISIONS:
            note = texts.EXPIRED
        elif str(query.from_user.id) != pending.sender_id:
            note = texts.NOT_YOURS
        else:
            note = texts.decided(pending.tool, decision)
            if not pending.future.done():
                pending.future.set_result(decision)
        try:
            await bot.answer_callback_query(query.id, text=note)
        except Exception as exc:  # the spinner on the button stops by itself
            log.debug("answerCallbackQuery failed: %s", exc)

    @staticmethod
    def owns(query: CallbackQuery) -> bool:
        return (query.data or "").startswith(PREFIX + ":")
