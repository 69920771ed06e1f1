"""Tool confirmations in the terminal: the next typed line answers the question."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

import pytest

from assistant_cli.channels.base import ChannelContext
from assistant_cli.channels.console import ConsoleChannel
from assistant_cli.config.models import ConsoleConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.paths import resolve


class Sink:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []

    async def submit(self, msg: InboundMessage) -> bool:
        self.messages.append(msg)
        return True

    async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
        return [await self.submit(m) for m in msgs]


def channel() -> tuple[ConsoleChannel, Sink]:
    ctx = ChannelContext(resolve_secret=lambda r, k: "", paths=resolve(), events=EventBus(),
                         request_stop=lambda: None)
    console = ConsoleChannel(ConsoleConfig(), ctx)
    console.out.file = io.StringIO()
    sink = Sink()
    console._sink = sink
    return console, sink


MSG = InboundMessage(platform="console", external_id="1", chat_id="local", sender_id="me",
                     text="q")


@pytest.mark.parametrize(("typed", "decision"), [
    ("o", "once"), ("chat", "chat"), ("A", "always"), ("d", "deny"), ("", "deny"),
    ("what?", "deny")])
async def test_typed_line_answers_the_confirmation(typed: str, decision: str) -> None:
    console, sink = channel()
    request = ConfirmRequest("time.now", "{}", "The assistant wants to use time.now", 5)
    asking = asyncio.create_task(console.confirm(MSG, request))
    await asyncio.sleep(0)
    await console._line(typed)
    assert await asking == decision
    assert sink.messages == []  # the answer is not a new message
    assert "time.now" in console.out.file.getvalue()  # type: ignore[attr-defined]
    await console._line("next question")
    assert [m.text for m in sink.messages] == ["next question"]


async def test_unanswered_confirmation_times_out() -> None:
    console, _ = channel()
    request = ConfirmRequest("time.now", "{}", "?", 0.05)
    assert await console.confirm(MSG, request) is None
