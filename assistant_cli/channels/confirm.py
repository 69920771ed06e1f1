"""Questions to a user that a button press answers (tool confirmations), for any channel.

A question is known by a random token that the channel puts in the button's payload
(`tc:TOKEN:DECISION`); only the sender it was asked of can answer it, and it is gone once
answered, timed out, or the process restarted.

With several `serve` replicas the press may reach another replica than the one waiting on
the question (any replica takes webhooks; one polls). A press for a question unknown here
is then handed to `forward` (set by app/replicas.py, which sends it to every replica), and
the replica that asked settles it through `settle_forwarded()`; that replica also edits
the question to show the outcome, as for a local press.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from assistant_cli.domain.tools import DECISIONS, ConfirmRequest
from assistant_cli.i18n import ENGLISH, messages, normalize, translator

PREFIX = "tc"

Forward = Callable[[str, str], None]  # (button payload, presser's id) to the other replicas
_forward: Forward | None = None
_open: weakref.WeakSet[PendingQuestions] = weakref.WeakSet()


def set_forward(forward: Forward | None) -> None:
    """Where presses for questions unknown here go (None: they have expired)."""
    global _forward
    _forward = forward


def settle_forwarded(data: str, sender_id: str) -> bool:
    """Settle a question of this process that a press on another replica answered;
    False when none here is waiting on it (or the presser is not the one asked)."""
    return any(questions.settle(data, sender_id) for questions in list(_open))


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
        _open.add(self)

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
        if pending is None and decision in DECISIONS and _forward is not None:
            _forward(data, sender_id)  # another replica may be waiting on it
            return messages.decision_label(translator(hinted or ENGLISH), decision)
        if pending is None or decision not in DECISIONS:
            return messages.tool_question_expired(translator(hinted or ENGLISH))
        if sender_id != pending.sender_id:
            return messages.tool_question_not_yours(translator(hinted or pending.language))
        if not pending.future.done():
            pending.future.set_result(decision)
        return messages.tool_decided(translator(pending.language), pending.tool, decision)

    def settle(self, data: str, sender_id: str) -> bool:
        """Settle a question asked here with a press another replica received."""
        _, token, decision = ((data or "").split(":") + ["", "", ""])[:3]
        pending = self._pending.get(token)
        if pending is None or decision not in DECISIONS or sender_id != pending.sender_id:
            return False
        if not pending.future.done():
            pending.future.set_result(decision)
        return True
