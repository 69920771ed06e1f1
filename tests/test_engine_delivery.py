"""The engine under a send outage: retried answers are resent (never regenerated), given-up
messages are reported, and their senders are told once the channel works again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.domain.events import Event, EventBus
from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.engine.core import Engine
from assistant_cli.engine.delivery import Notifier
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.retry import RetryPolicy
from assistant_cli.store.undelivered import Undelivered
from tests.fakes.openai_server import FakeOpenAI
from tests.test_engine import RecordingChannel, config_for, m


class Down(Exception):
    """The platform answered 500."""


class Blocked(Exception):
    """The person blocked the bot."""


class FlakyChannel(RecordingChannel):
    """Fails its sends while `down` is set (for the chats in `only`, when given)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.only: set[str] | None = None
        self.failures = 0
        self.blocked: set[str] = set()

    def _maybe_fail(self, chat_id: str) -> None:
        if chat_id in self.blocked:
            raise Blocked("Forbidden: bot was blocked by the user")
        if self.down and (self.only is None or chat_id in self.only):
            self.failures += 1
            raise Down("Internal Server Error")

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        parts = [d async for d in deltas]  # the model streams, then the final send fails
        self._maybe_fail(msg.chat_id)
        self.replies.append((msg.chat_id, "".join(parts)))

    async def send(self, chat_id: str, text: str) -> None:
        self._maybe_fail(chat_id)
        self.sent.append((chat_id, text))

    def classify_failure(self, exc: BaseException) -> DeliveryFailure | None:
        if isinstance(exc, Blocked):
            return DeliveryFailure(True, str(exc))
        return DeliveryFailure(False, str(exc)) if isinstance(exc, Down) else None


class RecordingBus(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Event] = []

    def publish(self, event: Event | str, /, **data: Any) -> Event:
        self.seen.append(published := super().publish(event, **data))
        return published


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def engine_for(db: Database, url: str, channel: FlakyChannel, *, workers: int = 2,
               give_up_after: float = 60.0) -> tuple[Engine, list[Event]]:
    events = RecordingBus()
    seen = events.seen
    config = config_for(url)
    router = ProviderRouter(config, lambda r, w: "sk-test-key", events, base_delay=0.01)
    inbox = Inbox(db, policy=RetryPolicy(give_up_after=give_up_after, initial=0.02,
                                         maximum=0.1))
    runner = TurnRunner(inbox, History(db), router, config.assistant, events)
    engine = Engine(inbox, runner, {"test": channel}, events, workers=workers, grace=2.0,
                    undelivered=Undelivered(db), notice_every=0.1)
    return engine, seen


async def wait_for(check: object, timeout: float = 5.0) -> None:
    assert callable(check)
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_an_answer_outlasting_five_failed_sends_arrives_once_and_the_model_is_asked_once(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = Database(tmp_path / "s.db")
    channel = FlakyChannel()
    engine, _ = engine_for(db, fake.base_url, channel)
    await engine.start()
    await engine.submit(m("1", "hello"))
    await wait_for(lambda: channel.failures >= 8)  # today the row was failed after 5
    channel.down = False
    assert await engine.drain(5)
    await engine.stop()
    assert channel.sent == [("c1", "echo: hello")]  # the recorded reply, resent
    assert len(fake.requests) == 1
    assert Inbox(db).counts().done == 1


async def test_a_message_waiting_for_its_retry_does_not_idle_the_worker(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = Database(tmp_path / "s.db")
    channel = FlakyChannel()
    channel.only = {"a"}
    engine, _ = engine_for(db, fake.base_url, channel, workers=1)
    await engine.start()
    await engine.submit(m("1", "to a", chat="a"))
    await wait_for(lambda: channel.failures >= 3)
    await engine.submit(m("2", "to b", chat="b"))
    await wait_for(lambda: channel.replies == [("b", "echo: to b")], timeout=1.0)
    channel.down = False
    assert await engine.drain(5)
    await engine.stop()
    assert channel.sent == [("a", "echo: to a")]


async def test_a_given_up_message_is_reported_and_its_sender_told_once_the_channel_works(
    tmp_path: Path, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(tmp_path / "s.db")
    channel = FlakyChannel()
    engine, seen = engine_for(db, fake.base_url, channel, give_up_after=0.3)
    caplog.set_level(logging.WARNING, logger="assistant_cli.engine")
    await engine.start()
    await engine.submit(m("1", "lost question"))
    await wait_for(lambda: Undelivered(db).counts().failed == 1)
    assert any(e.name == "message.failed" and e.data["reason"] == "expired" for e in seen)
    assert any(getattr(r, "event", "") == "message.given_up" for r in caplog.records)
    await asyncio.sleep(0.3)
    assert channel.sent == []  # still down: the notice waits
    channel.down = False
    await wait_for(lambda: len(channel.sent) == 1)
    await asyncio.sleep(0.3)  # a second notice would show up now
    await engine.stop()
    assert channel.sent == [("c1", texts.not_answered(translator("en"), 1, "lost question"))]
    assert Undelivered(db).pending_notices(["test"]) == []


async def test_a_blocked_sender_is_given_up_at_once_and_not_told(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = Database(tmp_path / "s.db")
    channel = FlakyChannel()
    channel.down = False
    channel.blocked = {"c1"}
    engine, _ = engine_for(db, fake.base_url, channel)
    await engine.start()
    await engine.submit(m("1", "hello"))
    await wait_for(lambda: Undelivered(db).counts().failed == 1, timeout=2.0)
    await engine.stop()
    [failed] = Undelivered(db).failed()
    assert (failed.reason, failed.attempts, failed.notice) == ("permanent", 1, None)
    assert channel.sent == []


async def test_the_notifier_stops_when_cancelled_just_as_a_wake_up_arrives(
    tmp_path: Path
) -> None:
    # Before Python 3.12, asyncio.wait_for swallowed such a cancel and stop() hung.
    db = Database(tmp_path / "s.db")
    notifier = Notifier(Undelivered(db), {"test": FlakyChannel()}, EventBus(), every=30.0)
    task = asyncio.create_task(notifier.run())
    for _ in range(3):
        await asyncio.sleep(0)  # into the wait for a wake-up
    notifier.channel_works()
    task.cancel()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), timeout=2.0)
    assert task.cancelled()
