"""Tool confirmations with buttons: Telegram inline keyboards answered by callback_query (real
PTB against the fake Bot API), WhatsApp reply buttons answered by a button_reply webhook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.channels.telegram import TelegramChannel
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from tests.fakes.telegram_server import FakeTelegram
from tests.test_telegram_channel import CHAT, Sink, make_channel, new_token, until

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

LABELS = {"once": "Allow once", "chat": "Allow in this chat", "always": "Always",
          "deny": "Deny"}
NOT_YOURS = "Only the person who asked can answer this."


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=new_token()) as fake:
        yield fake


def question(msg_sender: int = CHAT) -> tuple[InboundMessage, ConfirmRequest]:
    msg = InboundMessage(platform="telegram", external_id="x", chat_id=str(CHAT),
                         sender_id=str(msg_sender), text="read it")
    request = ConfirmRequest("files.read_text", '{"path": "a"}',
                             'The assistant wants to use files.read_text with: {"path": "a"}',
                             5.0)
    return msg, request


async def started(tg: FakeTelegram) -> TelegramChannel:
    channel = make_channel(tg)
    await channel.start(Sink(tg))
    return channel


async def keyboard_shown(tg: FakeTelegram, channel: TelegramChannel, msg: InboundMessage,
                         request: ConfirmRequest
                         ) -> tuple[asyncio.Task[str | None], int, list[dict[str, Any]]]:
    """Ask the question; returns the asking task and the keyboard's message and buttons."""
    asking = asyncio.create_task(channel.confirm(msg, request))
    await until(lambda: tg.keyboard(CHAT) is not None)
    found = tg.keyboard(CHAT)
    assert found is not None
    return asking, found[0], found[1]


@pytest.mark.parametrize("decision", ["once", "chat", "always", "deny"])
async def test_button_press_answers_the_question(tg: FakeTelegram, decision: str) -> None:
    channel = await started(tg)
    try:
        msg, request = question()
        asking, message_id, buttons = await keyboard_shown(tg, channel, msg, request)
        assert [b["text"] for b in buttons] == ["Allow once", "Allow in this chat", "Always",
                                                "Deny"]
        assert "files.read_text" in tg.messages_to(CHAT)[-1]
        chosen = next(b for b in buttons if b["callback_data"].endswith(":" + decision))
        query = tg.push_callback_query(CHAT, message_id, chosen["callback_data"])
        assert await asyncio.wait_for(asking, 5) == decision
        await until(lambda: tg.callback_answers[query] is not None)
        answer = tg.callback_answers[query]
        assert answer is not None
        assert answer["text"] == "files.read_text: " + LABELS[decision]
        await until(lambda: tg.keyboard(CHAT) is None)  # the keyboard is gone once decided
    finally:
        await channel.stop()


async def test_only_the_asker_can_answer_and_unanswered_times_out(tg: FakeTelegram) -> None:
    channel = await started(tg)
    try:
        msg, request = question()
        request = ConfirmRequest(request.tool, request.arguments, request.prompt, 1.0)
        asking, message_id, buttons = await keyboard_shown(tg, channel, msg, request)
        query = tg.push_callback_query(CHAT, message_id, buttons[0]["callback_data"],
                                       user_id=777)
        await until(lambda: tg.callback_answers[query] is not None)
        assert (tg.callback_answers[query] or {})["text"] == NOT_YOURS
        assert await asyncio.wait_for(asking, 5) is None
        late = tg.push_callback_query(CHAT, message_id, buttons[0]["callback_data"])
        await until(lambda: tg.callback_answers[late] is not None)
        assert (tg.callback_answers[late] or {})["text"] == "This question has expired."
    finally:
        await channel.stop()


async def test_buttons_and_notes_are_in_the_senders_language(tg: FakeTelegram) -> None:
    channel = await started(tg)
    try:
        msg, request = question()
        request = ConfirmRequest(request.tool, request.arguments, "助手想使用 files.read_text",
                                 5.0, language="zh_CN")
        asking, message_id, buttons = await keyboard_shown(tg, channel, msg, request)
        assert [b["text"] for b in buttons] == ["允许一次", "本对话中允许", "始终允许", "拒绝"]
        query = tg.push_callback_query(CHAT, message_id, buttons[3]["callback_data"])
        assert await asyncio.wait_for(asking, 5) == "deny"
        await until(lambda: tg.callback_answers[query] is not None)
        assert (tg.callback_answers[query] or {})["text"] == "files.read_text：拒绝"
    finally:
        await channel.stop()


# -- WhatsApp: interactive reply buttons, answered by a button_reply webhook ------------------

async def test_whatsapp_reply_buttons_answer_the_question(tmp_path: Path) -> None:
    from tests.fakes.whatsapp_payloads import button_reply_payload
    from tests.fakes.whatsapp_server import FakeGraph, new_wamid
    from tests.whatsapp_support import running_channel

    wa = "15550002222"
    msg = InboundMessage(platform="whatsapp", external_id=new_wamid(), chat_id=wa,
                         sender_id=wa, text="count")
    request = ConfirmRequest("t.count", "{}", "The assistant wants to use t.count", 5.0)
    with FakeGraph() as graph:
        async with running_channel(graph, tmp_path) as h:
            asking = asyncio.create_task(h.channel.confirm(msg, request))
            await until(lambda: any(s.type == "interactive" for s in graph.sent))
            sent = next(s for s in graph.sent if s.type == "interactive")
            assert sent.text == request.prompt
            buttons = sent.body["interactive"]["action"]["buttons"]
            assert [b["reply"]["title"] for b in buttons] == [
                "Allow once", "Allow in this chat", "Deny"]
            chat = buttons[1]["reply"]
            other = await h.post(button_reply_payload("15559999999", chat["id"], chat["title"]))
            assert other.status_code == 200
            answer = await h.post(button_reply_payload(wa, chat["id"], chat["title"],
                                                       context=sent.wamid))
            assert answer.status_code == 200
            assert await asyncio.wait_for(asking, 5) == "chat"
            assert h.stored() == []  # button presses are not messages to answer
            await until(lambda: "t.count: Allow in this chat" in graph.texts_to(wa))
            assert NOT_YOURS in graph.texts_to("15559999999")
