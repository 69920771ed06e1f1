"""Questions to a user that a button press answers (tool confirmations), for any channel.

A question is known by a random token that the channel puts in the button's payload
(`tc:TOKEN:DECISION`); only the sender it was asked of can answer it, and it is gone once
answered, timed out, or the process restarted.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from assistant_cli.domain.tools import DECISIONS, ConfirmRequest
from assistant_cli.i18n import ENGLISH, messages, normalize, translator

PREFIX = "tc"


@dataclass
class _Pending:
    future: asyncio.Future[str]
    sender_id: str
    tool: str
    language: str


def payload(token: str, decision: str) -> str:
    return f"{PREFIX}:{token}:{decision}"


def is_answer(data: str | None) -> bool:
    return (data or "").startswith(PREFIX + ":")


class PendingQuestions:
    """The questions one channel is waiting on."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def open(self, sender_id: str, request: ConfirmRequest) -> tuple[str, asyncio.Future[str]]:
        token = secrets.token_urlsafe(8)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[token] = _Pending(future, sender_id, request.tool, request.language)
        return token, future

    async def wait(self, token: str, future: asyncio.Future[str], timeout: float
                   ) -> str | None:
        """The decision, or None when unanswered within `timeout` seconds."""
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self._pending.pop(token, None)

    def close(self, token: str) -> None:
        """Forget a question that could not be asked."""
        self._pending.pop(token, None)

    def answer(self, data: str, sender_id: str, language_hint: str | None = None) -> str:
        """Settle the question a button payload belongs to; returns the note to show, in
        the presser's language (their platform's hint, else the question's)."""
        _, token, decision = ((data or "").split(":") + ["", "", ""])[:3]
        pending = self._pending.get(token)
        hinted = normalize(language_hint)
        if pending is None or decision not in DECISIONS:
            return messages.tool_question_expired(translator(hinted or ENGLISH))
        if sender_id != pending.sender_id:
            return messages.tool_question_not_yours(translator(hinted or pending.language))
        if not pending.future.done():
            pending.future.set_result(decision)
        return messages.tool_decided(translator(pending.language), pending.tool, decision)
