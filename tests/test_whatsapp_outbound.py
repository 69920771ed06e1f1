"""WhatsApp outbound against a fake Graph API: start-up check, chunking, read receipts, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant_cli.channels.whatsapp import WhatsAppChannel
from assistant_cli.channels.whatsapp_graph import MAX_TEXT, GraphError, split_text
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.errors import ChannelError, ConfigError
from tests.fakes.whatsapp_server import FakeGraph, Fault, new_wamid
from tests.whatsapp_support import FAST_BACKOFF, running_channel, whatsapp_config

STRANGER = "15550001111"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


async def stream(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


def question(text: str = "hi") -> InboundMessage:
    return InboundMessage(platform="whatsapp", external_id=new_wamid(), chat_id=STRANGER,
                          sender_id=STRANGER, text=text)


async def test_start_with_a_rejected_access_token_names_the_config_key_and_doctor(
    graph: FakeGraph, isolated_home: Path
) -> None:
    with pytest.raises(ChannelError) as caught:
        async with running_channel(graph, isolated_home, access_token="EAAGexpired0000000"):
            pass
    text = str(caught.value)
    assert "platforms.whatsapp.access_token" in text
    assert "assistant-cli doctor" in text
    assert "EAAGexpired" not in text


async def test_start_with_an_unknown_phone_number_id_names_the_config_key(
    graph: FakeGraph, isolated_home: Path
) -> None:
    with pytest.raises(ChannelError) as caught:
        async with running_channel(graph, isolated_home, phone_number_id="123"):
            pass
    assert "platforms.whatsapp.phone_number_id" in str(caught.value)
    assert "'123'" in str(caught.value)


def test_missing_phone_number_id_is_a_config_error_naming_the_key(
    graph: FakeGraph, isolated_home: Path
) -> None:
    from assistant_cli.channels.base import ChannelContext
    from assistant_cli.domain.events import EventBus
    from assistant_cli.paths import resolve

    ctx = ChannelContext(resolve_secret=lambda r, k: r, paths=resolve(), events=EventBus(),
                         request_stop=lambda: None)
    with pytest.raises(ConfigError, match=r"platforms\.whatsapp\.phone_number_id"):
        WhatsAppChannel(whatsapp_config(graph, phone_number_id=None), ctx)


def test_split_text_keeps_every_piece_within_4096_and_prefers_paragraph_breaks() -> None:
    paragraph = ("word " * 700).strip()  # 3499 characters
    text = "\n\n".join([paragraph] * 3)
    pieces = split_text(text)
    assert all(len(p) <= MAX_TEXT for p in pieces)
    assert pieces == [paragraph] * 3
    unbroken = "x" * (2 * MAX_TEXT + 10)
    assert [len(p) for p in split_text(unbroken)] == [MAX_TEXT, MAX_TEXT, 10]
    assert split_text("short") == ["short"]


async def test_long_answer_arrives_in_pieces_of_at_most_4096_characters(
    graph: FakeGraph, isolated_home: Path
) -> None:
    answer = " ".join(f"w{i}" for i in range(3000))  # 16,889 characters
    async with running_channel(graph, isolated_home) as h:
        await h.channel.reply(question(), stream(answer[:5000], answer[5000:]))
    texts = graph.texts_to(STRANGER)
    assert len(texts) == 5
    assert all(len(t) <= MAX_TEXT for t in texts)
    assert " ".join(texts).split() == answer.split()


async def test_reply_marks_the_question_read_with_typing_before_the_answer(
    graph: FakeGraph, isolated_home: Path
) -> None:
    msg = question()
    async with running_channel(graph, isolated_home) as h:
        await h.channel.reply(msg, stream("Hel", "lo"))
    assert [(r.message_id, r.typing) for r in graph.reads] == [(msg.external_id, True)]
    assert graph.texts_to(STRANGER) == ["Hello"]
    assert graph.reads[0].at <= graph.sent[0].at


async def test_typing_indicator_is_refreshed_while_a_slow_answer_is_generated(
    graph: FakeGraph, isolated_home: Path
) -> None:
    import asyncio

    async def slow() -> AsyncIterator[str]:
        yield "thinking"
        await asyncio.sleep(0.35)
        yield " done"

    async with running_channel(graph, isolated_home) as h:
        h.channel.typing_every = 0.1
        await h.channel.reply(question(), slow())
    assert len(graph.reads) >= 2  # refreshed, not only sent once
    assert max(r.at for r in graph.reads) <= graph.sent[0].at


async def test_outside_the_24_hour_window_the_configured_template_is_sent(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home, template="reopen_chat",
                               template_language="de") as h:
        graph.script.append(Fault.window_closed())
        await h.channel.send(STRANGER, "You're paired!")
        assert "whatsapp.template_sent" in h.event_names()
    assert graph.texts_to(STRANGER) == []
    [template] = graph.sent
    assert template.type == "template"
    assert template.body["template"] == {"name": "reopen_chat", "language": {"code": "de"}}


async def test_outside_the_window_without_a_template_it_is_logged_and_an_event_raised(
    graph: FakeGraph, isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.script.append(Fault.window_closed())
        with caplog.at_level(logging.WARNING, "assistant_cli"):
            await h.channel.send(STRANGER, "late answer")  # returns: retrying cannot help
        assert "whatsapp.window_closed" in h.event_names()
    assert graph.sent == []
    assert "platforms.whatsapp.template" in caplog.text


async def test_rate_limits_are_backed_off_and_retried_until_sent(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.script.extend([Fault.rate_limited(), Fault.pair_rate_limited()])
        await h.channel.send(STRANGER, "eventually")
    assert graph.texts_to(STRANGER) == ["eventually"]
    first, second, third = graph.attempts
    assert second - first >= FAST_BACKOFF[0] * 0.9
    assert third - second >= FAST_BACKOFF[1] * 0.9


async def test_rate_limit_that_never_lifts_fails_the_send_after_the_back_off(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.script.extend([Fault.rate_limited()] * (len(FAST_BACKOFF) + 1))
        with pytest.raises(GraphError) as caught:
            await h.channel.send(STRANGER, "never")
    assert caught.value.code == 130429
    assert len(graph.attempts) == len(FAST_BACKOFF) + 1


async def test_token_rejected_while_sending_is_a_clear_error_with_a_doctor_hint(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        graph.script.append(Fault.token_expired())
        with pytest.raises(GraphError) as caught:
            await h.channel.send(STRANGER, "hello")
        assert h.channel.ready is False
        assert "whatsapp.token_invalid" in h.event_names()
    assert len(graph.attempts) == 1  # a bad token is not retried
    assert "platforms.whatsapp.access_token" in caught.value.message
    assert caught.value.hint is not None and "assistant-cli doctor" in caught.value.hint


async def test_empty_answer_is_replaced_by_a_notice(
    graph: FakeGraph, isolated_home: Path
) -> None:
    async with running_channel(graph, isolated_home) as h:
        await h.channel.reply(question(), stream("", "  "))
    assert graph.texts_to(STRANGER) == ["(the model returned an empty answer)"]


async def test_reply_in_flight_when_intake_stops_is_still_delivered(
    graph: FakeGraph, isolated_home: Path
) -> None:
    import asyncio

    gate = asyncio.Event()

    async def held() -> AsyncIterator[str]:
        yield "late"
        await gate.wait()
        yield " answer"

    async with running_channel(graph, isolated_home) as h:
        task = asyncio.create_task(h.channel.reply(question(), held()))
        assert await asyncio.to_thread(graph.wait_for, lambda g: bool(g.reads))
        await h.channel.stop()
        assert h.channel.graph is not None  # still needed by the reply
        gate.set()
        await task
        assert h.channel.graph is None
    assert graph.texts_to(STRANGER) == ["late answer"]
