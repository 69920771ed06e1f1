"""The /remind example: stores reminders, lists them, delivers due ones, passes the rest."""

from __future__ import annotations

import pytest
from assistant_cli_remind import RemindHandler, Settings
from pydantic import ValidationError

from assistant_cli.plugin import Answer, Pass
from assistant_cli.testing import FakeContext, fake_message


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_stores_lists_and_delivers_a_reminder_with_the_next_message() -> None:
    clock = Clock()
    handler = RemindHandler(Settings(), clock=clock)
    ctx = FakeContext()
    assert await handler.handle(fake_message("/remind 10m buy milk"), ctx) == Answer(
        "OK, I'll remind you in 10m: buy milk")
    assert await handler.handle(fake_message("/remind"), ctx) == Answer("- buy milk (in 10m)")
    assert await handler.handle(fake_message("hello"), ctx) == Pass()
    assert ctx.sent == []
    clock.now += 601
    assert await handler.handle(fake_message("what's up?"), ctx) == Pass()  # model answers
    assert ctx.sent == ["⏰ Reminder: buy milk"]
    assert await handler.handle(fake_message("/remind"), ctx) == Answer(
        "Nothing pending. Example: /remind 10m buy milk")


async def test_keeps_senders_apart_and_enforces_the_limit_and_usage() -> None:
    handler = RemindHandler(Settings(max_per_sender=1), clock=Clock())
    alice, bob = FakeContext(sender="a"), FakeContext(sender="b")
    bob.store = alice.store  # one plugin store, as in serve
    await handler.handle(fake_message("/remind 1h call mum", sender="a"), alice)
    assert await handler.handle(fake_message("/remind", sender="b"), bob) == Answer(
        "Nothing pending. Example: /remind 10m buy milk")
    limited = await handler.handle(fake_message("/remind 2h more", sender="a"), alice)
    assert limited == Answer("You already have 1 reminders; /remind clear forgets them.")
    assert "Usage" in str(await handler.handle(fake_message("/remind soon x"), bob))
    assert await handler.handle(fake_message("/remind clear", sender="a"), alice) == Answer(
        "Forgot 1 reminder(s).")


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"max_per_sender": 0})
