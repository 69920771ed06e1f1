"""The engine: ordering, concurrency, commands, failures, shutdown, replay after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.channels.base import Channel, ChannelContext, InboundSink
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import Config
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.core import Engine
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.paths import resolve
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from tests.fakes.openai_server import Error, FakeOpenAI

APOLOGY = texts.apology(translator("en"))
UNSUPPORTED = texts.unsupported(translator("en"))


class RecordingChannel(Channel):
    """A channel that records what it would have shown."""

    platform = "test"

    def __init__(self, config: Any = None, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.replies: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []
        self.deltas: list[list[str]] = []

    async def start(self, sink: InboundSink) -> None:
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        parts = [d async for d in deltas]
        self.deltas.append(parts)
        self.replies.append((msg.chat_id, "".join(parts)))

    async def send(self, chat_id: str, text: str) -> None:
        self.sent.append((chat_id, text))


def config_for(url: str, history: int = 20) -> Config:
    text = (f"providers:\n  fake: {{base_url: '{url}', model: fake-model, api_key: env:K}}\n"
            f"assistant:\n  history_length: {history}\n  system_prompt: sys\n")
    return validate_document(parse_document(text, "c"), "c")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def build(db: Database, config: Config, channel: Channel) -> Engine:
    events = EventBus()
    router = ProviderRouter(config, lambda r, w: "sk-test-key", events, base_delay=0.01)
    inbox = Inbox(db)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events)
    return Engine(inbox, runner, {"test": channel}, events, workers=4, grace=2.0)


def m(ext: str, text: str, chat: str = "c1") -> InboundMessage:
    return InboundMessage(platform="test", external_id=ext, chat_id=chat, sender_id="u",
                          text=text)


async def test_messages_are_answered_and_history_is_sent_next_time(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    channel = RecordingChannel()
    engine = build(Database(tmp_path / "s.db"), config_for(fake.base_url), channel)
    await engine.start()
    assert await engine.submit(m("1", "first"))
    assert await engine.drain(5)
    assert await engine.submit(m("2", "second"))
    assert await engine.drain(5)
    await engine.stop()
    assert channel.replies == [("c1", "echo: first"), ("c1", "echo: second")]
    assert channel.deltas[0] == ["echo: ", "first"]  # streamed piece by piece
    second = fake.requests[1].body["messages"]
    assert [(t["role"], t["content"]) for t in second] == [
        ("system", "sys"), ("user", "first"), ("assistant", "echo: first"), ("user", "second")]


async def test_redelivered_message_is_answered_once(tmp_path: Path, fake: FakeOpenAI) -> None:
    channel = RecordingChannel()
    engine = build(Database(tmp_path / "s.db"), config_for(fake.base_url), channel)
    await engine.start()
    assert await engine.submit(m("1", "hello"))
    assert not await engine.submit(m("1", "hello"))
    assert await engine.drain(5)
    await engine.stop()
    assert len(channel.replies) == 1


async def test_one_conversation_in_order_others_concurrently(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.token_delay = 0.02
    channel = RecordingChannel()
    engine = build(Database(tmp_path / "s.db"), config_for(fake.base_url, history=0), channel)
    await engine.start()
    for i in range(3):
        await engine.submit(m(f"a{i}", f"a{i}", chat="A"))
        await engine.submit(m(f"b{i}", f"b{i}", chat="B"))
    assert await engine.drain(10)
    await engine.stop()
    a = [text for chat, text in channel.replies if chat == "A"]
    b = [text for chat, text in channel.replies if chat == "B"]
    assert a == ["echo: a0", "echo: a1", "echo: a2"]
    assert b == ["echo: b0", "echo: b1", "echo: b2"]
    # Concurrency: the two conversations interleave instead of running back to back.
    order = [chat for chat, _ in channel.replies]
    assert order != ["A", "A", "A", "B", "B", "B"] and order != ["B", "B", "B", "A", "A", "A"]


async def test_commands_are_answered_without_a_model(tmp_path: Path, fake: FakeOpenAI) -> None:
    channel = RecordingChannel()
    db = Database(tmp_path / "s.db")
    engine = build(db, config_for(fake.base_url), channel)
    await engine.start()
    await engine.submit(m("1", "remember me"))
    await engine.drain(5)
    await engine.submit(m("2", "/reset"))
    await engine.submit(m("3", "/help"))
    await engine.submit(m("4", "/status"))
    await engine.drain(5)
    await engine.stop()
    assert len(fake.requests) == 1
    texts = [t for _, t in channel.sent]
    assert texts[0].startswith("Done — I forgot this conversation (1 exchange)")
    assert "/reset" in texts[1]
    assert "providers: fake" in texts[2]
    assert History(db).count("test:c1") == 0


async def test_non_text_message_gets_a_short_explanation(tmp_path: Path, fake: FakeOpenAI) -> None:
    channel = RecordingChannel()
    engine = build(Database(tmp_path / "s.db"), config_for(fake.base_url), channel)
    await engine.start()
    await engine.submit(InboundMessage(platform="test", external_id="p", chat_id="c", sender_id="u",
                                 text="", kind="photo"))
    await engine.drain(5)
    await engine.stop()
    assert channel.sent == [("c", UNSUPPORTED)] and fake.requests == []


async def test_when_every_provider_fails_the_user_gets_an_apology(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    fake.enqueue(Error.invalid_api_key())
    channel = RecordingChannel()
    db = Database(tmp_path / "s.db")
    engine = build(db, config_for(fake.base_url), channel)
    sub = engine.events.subscribe()
    await engine.start()
    await engine.submit(m("1", "hello"))
    await engine.drain(5)
    await engine.stop()
    assert channel.sent == [("c1", APOLOGY)]
    assert Inbox(db).counts().done == 1
    names = [sub.queue.get_nowait().name for _ in range(sub.queue.qsize())]
    assert "turn.failed" in names


async def test_stop_returns_unfinished_work_to_the_queue(tmp_path: Path, fake: FakeOpenAI) -> None:
    from tests.fakes.openai_server import Hang

    fake.enqueue(Hang())
    channel = RecordingChannel()
    db = Database(tmp_path / "s.db")
    engine = build(db, config_for(fake.base_url), channel)
    engine.grace = 0.3
    await engine.start()
    await engine.submit(m("1", "hello"))
    assert await asyncio.to_thread(fake.wait_for_requests, 1, 5)
    await engine.stop()
    counts = Inbox(db).counts()
    assert counts.queued == 1 and counts.claimed == 0
    # The next run answers it.
    channel2 = RecordingChannel()
    engine2 = build(db, config_for(fake.base_url), channel2)
    await engine2.start()
    assert await engine2.drain(5)
    await engine2.stop()
    assert channel2.replies == [("c1", "echo: hello")]


async def test_hurry_cuts_the_grace_period_short_and_keeps_the_work(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    from tests.fakes.openai_server import Hang

    fake.enqueue(Hang())
    db = Database(tmp_path / "s.db")
    engine = build(db, config_for(fake.base_url), RecordingChannel())
    engine.grace = 30.0
    await engine.start()
    await engine.submit(m("1", "hello"))
    assert await asyncio.to_thread(fake.wait_for_requests, 1, 5)
    assert engine.in_flight == 1
    stopping = asyncio.create_task(engine.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop() must wait for the in-flight turn"
    engine.hurry()
    await asyncio.wait_for(stopping, timeout=5)
    assert Inbox(db).counts().queued == 1


async def test_message_of_a_channel_not_running_stays_queued_untouched(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await inbox.add(InboundMessage(platform="telegram", external_id="t1", chat_id="9",
                                   sender_id="9", text="from a run with telegram"))
    channel = RecordingChannel()
    engine = build(db, config_for(fake.base_url), channel)
    await engine.start()
    await engine.submit(m("1", "hello"))
    assert await engine.drain(5)  # done without waiting for the telegram message
    await engine.stop()
    assert channel.replies == [("c1", "echo: hello")]
    row = db.execute("SELECT status, attempts FROM inbox WHERE platform = 'telegram'").fetchone()
    assert tuple(row) == ("queued", 0)
    assert fake.user_messages() == ["hello"]


async def test_drain_waits_without_a_deadline_until_told_to_stop(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    from tests.fakes.openai_server import Hang

    fake.enqueue(Hang())
    db = Database(tmp_path / "s.db")
    engine = build(db, config_for(fake.base_url), RecordingChannel())
    await engine.start()
    await engine.submit(m("1", "hello"))
    stop_waiting = asyncio.Event()
    draining = asyncio.create_task(engine.drain(until=stop_waiting))
    assert await asyncio.to_thread(fake.wait_for_requests, 1, 5)
    await asyncio.sleep(0.2)
    assert not draining.done()
    stop_waiting.set()
    assert await asyncio.wait_for(draining, timeout=2) is False
    engine.hurry()
    await engine.stop()


async def test_stored_reply_is_resent_without_asking_the_model(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await inbox.add(m("1", "question"))
    item = await inbox.claim()
    assert item is not None
    await inbox.record_reply(item.id, "stored answer")  # crash after generating, before sending
    channel = RecordingChannel()
    engine = build(db, config_for(fake.base_url), channel)
    await engine.start()
    assert await engine.drain(5)
    await engine.stop()
    assert channel.sent == [("c1", "stored answer")]
    assert fake.requests == []
    assert [t.content for t in History(db).recent("test:c1", 5)] == ["question", "stored answer"]


async def test_channel_context_is_constructible_for_plugins(tmp_path: Path) -> None:
    ctx = ChannelContext(resolve_secret=lambda r, k: r, paths=resolve(), events=EventBus(),
                         request_stop=lambda: None)
    assert ctx.web_app is None
