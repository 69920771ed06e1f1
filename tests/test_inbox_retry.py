"""The retry schedule of unsent answers: not-before times in the inbox, give-up by time."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.retry import RetryPolicy
from assistant_cli.store.undelivered import Undelivered

DOWN = DeliveryFailure(False, "Internal Server Error")
BLOCKED = DeliveryFailure(True, "Forbidden: bot was blocked by the user")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "state.db")


def msg(ext: str, chat: str = "c1") -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=ext, chat_id=chat, sender_id="u",
                          text=f"question {ext}")


def inbox_with(db: Database, clock: Clock, **policy: float) -> Inbox:
    return Inbox(db, policy=RetryPolicy(jitter=lambda: 1.0, **policy), clock=clock)  # type: ignore[arg-type]


async def test_a_failed_message_is_not_claimed_again_before_its_backoff_has_passed(
    db: Database
) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock, initial=2.0, maximum=600.0)
    await inbox.add(msg("1"))
    waits = []
    for _ in range(4):
        item = await inbox.claim()
        assert item is not None
        start = clock.now
        decision = await inbox.release(item.id, "NetworkError: 500", DOWN)
        assert decision.retry
        waits.append(decision.not_before - start)
        clock.now = decision.not_before - 0.01
        assert await inbox.claim() is None  # a hundredth of a second early: no worker gets it
        clock.now = decision.not_before
    assert waits == [2.0, 4.0, 8.0, 16.0]  # exponential (jitter pinned to 1.0 here)


def test_backoff_is_jittered_and_capped() -> None:
    draws = iter([0.5, 1.0])
    policy = RetryPolicy(initial=2.0, maximum=10.0, jitter=lambda: next(draws))
    assert policy.backoff(1) == 1.0
    assert policy.backoff(30) == 10.0
    assert 5.0 <= RetryPolicy(initial=2.0, maximum=10.0).backoff(30) <= 10.0


async def test_the_platforms_retry_after_is_honoured_when_longer_than_the_backoff(
    db: Database
) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock, initial=1.0)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    decision = await inbox.release(item.id, "RetryAfter", DeliveryFailure(False, "flood", 42.0))
    assert decision.not_before == clock.now + 42.0
    clock.now += 41.9
    assert await inbox.claim() is None
    clock.now += 0.1
    assert await inbox.claim() is not None


async def test_an_outage_is_retried_far_beyond_five_attempts_until_the_time_limit(
    db: Database
) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock, give_up_after=3600.0, initial=1.0, maximum=60.0)
    await inbox.add(msg("1"))
    first_failure = clock.now
    tries = 0
    while True:
        item = await inbox.claim()
        assert item is not None, f"not due after {tries} tries"
        tries += 1
        decision = await inbox.release(item.id, "NetworkError: 502", DOWN)
        if not decision.retry:
            break
        clock.now = decision.not_before
    assert decision.reason == "expired"
    assert tries > 60  # about an hour of tries at most a minute apart
    assert clock.now - first_failure >= 3600.0  # the last try was at the limit, not before
    [failed] = Undelivered(db).failed()
    assert (failed.reason, failed.notice, failed.attempts) == ("expired", "pending", tries)


async def test_an_error_that_cannot_succeed_gives_up_at_once_and_nobody_is_told(
    db: Database
) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    decision = await inbox.release(item.id, "Forbidden: bot was blocked by the user", BLOCKED)
    assert (decision.retry, decision.reason) == (False, "permanent")
    [failed] = Undelivered(db).failed()
    assert failed.notice is None and "blocked" in failed.error
    assert Undelivered(db).pending_notices(["telegram"]) == []


async def test_a_waiting_message_holds_back_its_conversation_but_not_others(db: Database) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock)
    await inbox.add(msg("1", chat="a"))
    await inbox.add(msg("2", chat="a"))
    await inbox.add(msg("3", chat="b"))
    first = await inbox.claim()
    assert first is not None and first.message.external_id == "1"
    await inbox.release(first.id, "NetworkError", DOWN)
    other = await inbox.claim()
    assert other is not None and other.message.external_id == "3"  # not "2": order kept
    assert await inbox.claim() is None
    clock.now += 10
    again = await inbox.claim()
    assert again is not None and again.message.external_id == "1"


async def test_an_interrupted_turn_goes_back_at_once_and_uncounted(db: Database) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    await inbox.put_back(item.id)
    again = await inbox.claim()
    assert again is not None and again.attempts == 1


async def test_requeue_gives_a_failed_message_a_fresh_window_and_keeps_its_reply(
    db: Database
) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock)
    undelivered = Undelivered(db)
    await inbox.add(msg("1"))
    await inbox.add(msg("2", chat="c2"))
    item = await inbox.claim()
    assert item is not None
    await inbox.record_reply(item.id, "the answer")
    await inbox.release(item.id, "Forbidden", BLOCKED)
    assert undelivered.counts().failed == 1
    assert undelivered.requeue([item.id, 999]) == [item.id]
    assert undelivered.counts().failed == 0
    again = await inbox.claim()
    assert again is not None and again.id == item.id
    assert again.attempts == 1 and again.reply_text == "the answer" and not again.reply_sent


async def test_pending_notices_are_grouped_per_chat_and_marked_once(db: Database) -> None:
    clock = Clock()
    inbox = inbox_with(db, clock, give_up_after=1.0)
    for ext, chat in (("1", "a"), ("2", "b"), ("3", "a")):
        await inbox.add(msg(ext, chat=chat))
    for _ in range(3):
        item = await inbox.claim()
        assert item is not None
        await inbox.release(item.id, "down", DOWN)  # first failure: queued
        clock.now += 2
        item = await inbox.claim()
        assert item is not None
        assert not (await inbox.release(item.id, "down", DOWN)).retry  # past the limit: given up
    undelivered = Undelivered(db)
    notices = {n.chat_id: n for n in undelivered.pending_notices(["telegram"])}
    assert set(notices) == {"a", "b"}
    assert len(notices["a"].ids) == 2 and notices["a"].first_text == "question 1"
    assert undelivered.pending_notices(["whatsapp"]) == []
    undelivered.mark_noticed(notices["a"].ids)
    assert [n.chat_id for n in undelivered.pending_notices(["telegram"])] == ["b"]
