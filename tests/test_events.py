"""The event bus: typed events, the by-name compatibility path, consumers that survive a bad
event."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assistant_cli.domain.events import (
    EVENT_TYPES,
    Event,
    EventBus,
    MessageIn,
    PairingApproved,
    Untyped,
)
from assistant_cli.observability.serve_metrics import ServeMetrics


def message_in(i: int) -> MessageIn:
    return MessageIn(channel="console", sender="me", length=1, id=i, text="x")


async def settle(bus: EventBus, seen: list[int], count: int) -> None:
    for _ in range(200):
        if len(seen) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the consumer saw {len(seen)} of {count} events")


async def test_a_consumer_that_raises_on_one_event_logs_it_counts_it_and_keeps_consuming(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    metrics = ServeMetrics(lambda: 0)
    metrics.start(bus)
    seen: list[int] = []

    def picky(event: Event) -> None:
        assert isinstance(event, MessageIn)
        if event.id == 2:
            raise ValueError("cannot handle message 2")
        seen.append(event.id)

    consumer = bus.consume(picky, name="picky")
    with caplog.at_level(logging.ERROR, logger="assistant_cli.events"):
        for i in (1, 2, 3, 4):
            bus.publish(message_in(i))
        await settle(bus, seen, 3)
    assert seen == [1, 3, 4]
    assert bus.handler_errors == {"picky": 1}
    failures = [r for r in caplog.records if r.getMessage().startswith("event consumer picky")]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "cannot handle message 2" in caplog.text

    families = {f.name: f for f in text_string_to_metric_families(metrics.render())}
    samples = families["assistant_event_handler_errors"].samples
    assert [(s.labels, s.value) for s in samples] == [({"consumer": "picky"}, 1.0)]
    assert families["assistant_messages_received"].samples[0].value == 4.0

    await consumer.stop()  # the earlier error is not raised again
    await metrics.stop()


async def test_a_handler_failing_on_every_event_logs_once_per_interval_but_counts_all(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    calls: list[int] = []

    def broken(event: Event) -> None:
        calls.append(1)
        raise RuntimeError("always")

    consumer = bus.consume(broken, name="broken")
    with caplog.at_level(logging.ERROR, logger="assistant_cli.events"):
        for i in range(50):
            bus.publish(message_in(i))
        await settle(bus, calls, 50)
    assert bus.handler_errors == {"broken": 50}
    assert sum(r.getMessage().startswith("event consumer broken") for r in caplog.records) == 1
    await consumer.stop()
    await consumer.stop()  # twice is harmless


async def test_publishing_by_name_builds_the_typed_event_or_an_untyped_one() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    typed = bus.publish("pairing.approved", channel="telegram", sender="42")
    other = bus.publish("plugin.something", answer=42)
    assert isinstance(typed, PairingApproved) and typed.sender == "42"
    assert isinstance(other, Untyped) and other.name == "plugin.something"
    assert other.data == {"answer": 42}
    assert [sub.queue.get_nowait(), sub.queue.get_nowait()] == [typed, other]
    with pytest.raises(TypeError, match="unexpected keyword argument 'sender_id'"):
        bus.publish("pairing.approved", channel="telegram", sender_id="42")


def test_every_event_name_is_registered_once_and_data_leaves_out_the_timestamp() -> None:
    assert EVENT_TYPES["message.in"] is MessageIn
    event = message_in(7)
    assert event.name == "message.in"
    assert event.data == {"channel": "console", "sender": "me", "length": 1, "id": 7,
                          "text": "x"}
    with pytest.raises(TypeError, match="defined twice"):
        type("Again", (Event,), {"NAME": "message.in"})
