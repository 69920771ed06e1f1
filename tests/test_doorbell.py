"""Waking idle workers one at a time (engine/doorbell.py), and what it saves the engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboxItem
from assistant_cli.engine.core import Engine
from assistant_cli.engine.doorbell import Doorbell
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from tests.fakes.openai_server import FakeOpenAI
from tests.test_engine import RecordingChannel, config_for, fake, m

__all__ = ["fake"]  # the fixture


async def waiters(bell: Doorbell, count: int) -> list[asyncio.Task[bool]]:
    tasks = [asyncio.create_task(bell.wait(timeout=5)) for _ in range(count)]
    await asyncio.sleep(0)
    assert bell.waiting == count
    return tasks


async def test_a_ring_wakes_one_waiter_not_all() -> None:
    bell = Doorbell(limit=8)
    tasks = await waiters(bell, 5)
    bell.ring()
    await asyncio.sleep(0.01)
    assert [t.done() for t in tasks].count(True) == 1
    assert bell.waiting == 4
    bell.ring(2)
    await asyncio.sleep(0.01)
    assert [t.done() for t in tasks].count(True) == 3
    bell.ring_all()
    assert await asyncio.gather(*tasks) == [True] * 5


async def test_a_ring_with_nobody_waiting_is_kept_up_to_the_limit() -> None:
    bell = Doorbell(limit=2)
    bell.ring(5)  # a message stored while every worker was busy claiming
    assert await bell.wait(timeout=0.01) is True
    assert await bell.wait(timeout=0.01) is True
    assert await bell.wait(timeout=0.01) is False  # only `limit` were kept


async def test_a_wait_times_out_and_leaves_no_waiter_behind() -> None:
    bell = Doorbell(limit=1)
    assert await bell.wait(timeout=0.02) is False
    assert bell.waiting == 0
    bell.ring()  # nobody waits: kept for the next
    assert await bell.wait(timeout=0.02) is True


async def test_a_cancelled_waiter_does_not_swallow_a_ring() -> None:
    bell = Doorbell(limit=1)
    first, second = await waiters(bell, 2)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    bell.ring()
    assert await asyncio.wait_for(second, 1) is True
    # Rung and cancelled before it could act: the ring goes on to the next wait.
    (third,) = await waiters(bell, 1)
    bell.ring()
    third.cancel()
    await asyncio.gather(third, return_exceptions=True)
    assert await bell.wait(timeout=0.02) is True


class CountingInbox(Inbox):
    claims = 0

    async def claim(self, platforms: object = None) -> InboxItem | None:
        self.claims += 1
        return await super().claim(platforms)  # type: ignore[arg-type]


async def test_one_message_costs_a_few_claims_not_one_per_worker(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    config, channel = config_for(fake.base_url), RecordingChannel()
    db = Database(tmp_path / "s.db")
    events = EventBus()
    inbox = CountingInbox(db)
    runner = TurnRunner(inbox, History(db), ProviderRouter(
        config, lambda r, w: "sk-test-key", events, base_delay=0.01), config.assistant, events)
    engine = Engine(inbox, runner, {"test": channel}, events, workers=32, grace=2.0)
    await engine.start()
    try:
        await asyncio.sleep(0.2)  # every worker found nothing and waits
        before = inbox.claims
        for i in range(5):
            assert await engine.submit(m(str(i), f"hello {i}", chat=f"c{i}"))
            assert await engine.drain(5)
        per_message = (inbox.claims - before) / 5
    finally:
        await engine.stop()
    assert len(channel.replies) == 5
    # The claim that takes it, one more (there might be another), the worker's next look.
    # With one event for all, each of the 32 workers claimed, twice per message.
    assert per_message <= 4, per_message
