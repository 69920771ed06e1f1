"""Tool confirmations on Telegram: an inline keyboard out, the button press back in as a
`callback_query` (Allow once / Allow in this chat / Always / Deny).

Only the sender the question is for can answer it. A question outlives neither its time
limit nor the process: a press after a restart is told the question expired, and the
resumed turn asks again.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from assistant_cli.channels.confirm import PendingQuestions, is_answer, payload
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.i18n import Translator, messages, translator

log = logging.getLogger("assistant_cli.channels.telegram")


def keyboard(token: str, t: Translator) -> InlineKeyboardMarkup:
    def button(decision: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(messages.decision_label(t, decision),
                                    callback_data=payload(token, decision))

    return InlineKeyboardMarkup([[button("once"), button("chat")],
                                 [button("always"), button("deny")]])


class Confirmations:
    """The questions one bot is waiting on."""

    def __init__(self) -> None:
        self.questions = PendingQuestions()

    async def ask(self, bot: Bot, chat_id: int | str, msg: InboundMessage,
                  request: ConfirmRequest) -> str | None:
        token, future = self.questions.open(msg.sender_id, request)
        t = translator(request.language)
        reply_to = msg.meta.get("message_id") if msg.is_group else None
        reply = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                 if isinstance(reply_to, int) else None)
        try:
            sent = await bot.send_message(chat_id, request.prompt,
                                          reply_markup=keyboard(token, t), reply_parameters=reply)
        except BaseException:
            self.questions.close(token)
            raise
        decision = await self.questions.wait(token, future, request.timeout)
        with contextlib.suppress(Exception):  # cosmetic: the decision stands regardless
            await bot.edit_message_text(messages.tool_decided(t, request.tool,
                                                              decision or "timeout"),
                                        chat_id=chat_id, message_id=sent.message_id)
        return decision

    async def answered(self, bot: Bot, query: CallbackQuery) -> None:
        """A button was pressed: settle the question it belongs to, and tell Telegram."""
        note = self.questions.answer(query.data or "", str(query.from_user.id),
                                     query.from_user.language_code)
        try:
            await bot.answer_callback_query(query.id, text=note)
        except Exception as exc:  # the spinner on the button stops by itself
            log.debug("answerCallbackQuery failed: %s", exc)

    @staticmethod
    def owns(query: CallbackQuery) -> bool:
        return is_answer(query.data)
