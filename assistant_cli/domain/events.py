"""The event bus: publishing never blocks, and a bad handler never stops a consumer.

The events themselves are classes in domain/event_types.py, re-exported here so that
`from assistant_cli.domain.events import MessageIn` keeps working.

Each subscriber has a bounded queue, and a subscriber that falls behind loses its oldest
events (and is told how many) rather than slowing message handling down. A consumer whose
handler raises logs the error, counts it (`EventBus.handler_errors`, shown in /metrics) and
goes on with the next event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from assistant_cli.domain.event_types import (
    EVENT_TYPES,
    ChannelFailing,
    Event,
    HandlerFailed,
    LogRecorded,
    McpFailed,
    McpReady,
    McpToolsChanged,
    MessageError,
    MessageFailed,
    MessageIn,
    MessageOut,
    MetricsReading,
    NoticeSent,
    PairingApproved,
    PairingDenied,
    PairingRequested,
    ProviderCallFailed,
    ProviderFailover,
    ProvidersExhausted,
    ProviderUsage,
    ToolCalled,
    ToolConfirmAsked,
    ToolConfirmed,
    TurnFailed,
    Untyped,
    UsageCapped,
    WhatsAppDeliveryFailed,
    WhatsAppTemplateSent,
    WhatsAppTokenInvalid,
    WhatsAppWebhookError,
    WhatsAppWindowClosed,
)

__all__ = [
    "EVENT_TYPES",
    "ChannelFailing",
    "Consumer",
    "Event",
    "EventBus",
    "HandlerFailed",
    "LogRecorded",
    "McpFailed",
    "McpReady",
    "McpToolsChanged",
    "MessageError",
    "MessageFailed",
    "MessageIn",
    "MessageOut",
    "MetricsReading",
    "NoticeSent",
    "PairingApproved",
    "PairingDenied",
    "PairingRequested",
    "ProviderCallFailed",
    "ProviderFailover",
    "ProviderUsage",
    "ProvidersExhausted",
    "Subscription",
    "ToolCalled",
    "ToolConfirmAsked",
    "ToolConfirmed",
    "TurnFailed",
    "Untyped",
    "UsageCapped",
    "WhatsAppDeliveryFailed",
    "WhatsAppTemplateSent",
    "WhatsAppTokenInvalid",
    "WhatsAppWebhookError",
    "WhatsAppWindowClosed",
]

log = logging.getLogger("assistant_cli.events")


# -- the bus ----------------------------------------------------------------------------
class Subscription:
    """One subscriber's queue of events."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class Consumer:
    """A background task that hands every event to `handler`; `stop()` ends it.

    A handler that raises does not end the task: the error is logged (at most once per
    `LOG_EVERY` seconds per consumer, so a handler failing on every event cannot flood the
    log), counted in `bus.handler_errors[name]`, and the next event is handled.
    """

    LOG_EVERY = 10.0

    def __init__(self, bus: EventBus, handler: Callable[[Event], None], *, name: str,
                 maxsize: int) -> None:
        self.bus, self.handler, self.name = bus, handler, name
        self._sub = bus.subscribe(maxsize)
        self._logged_at = -self.LOG_EVERY
        self._unlogged = 0
        self._task: asyncio.Task[None] | None = asyncio.create_task(self._run(), name=name)

    async def _run(self) -> None:
        try:
            async for event in self._sub:
                try:
                    self.handler(event)
                except Exception:
                    self._failed(event)
        finally:
            self._sub.close()

    def _failed(self, event: Event) -> None:
        errors = self.bus.handler_errors
        errors[self.name] = errors.get(self.name, 0) + 1
        now = time.monotonic()
        if now - self._logged_at < self.LOG_EVERY:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more failures since the last report)" if self._unlogged else ""
        self._logged_at, self._unlogged = now, 0
        log.exception("event consumer %s failed on %s; it goes on with the next event%s",
                      self.name, event.name, more,
                      extra={"event": "events.handler_failed",
                             "fields": {"consumer": self.name, "event_name": event.name}})

    async def stop(self) -> None:
        """End the task. Never raises: handler errors were dealt with when they happened."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:  # only a bug in the loop itself; the handler's are caught
                log.exception("event consumer %s had stopped with an error", self.name,
                              extra={"event": "events.consumer_failed"})


class EventBus:
    """Fan-out of events to subscribers inside one process."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        # Consumer name → how many events its handler raised on (for /metrics).
        self.handler_errors: dict[str, int] = {}

    def publish(self, event: Event | str, /, **data: Any) -> Event:
        """Hand `event` to every subscriber. A name and keyword data are accepted too (see
        the module docstring); a registered name with a wrong field raises TypeError."""
        if isinstance(event, str):
            cls = EVENT_TYPES.get(event)
            event = cls(**data) if cls is not None else Untyped(event_name=event, payload=data)
        for sub in list(self._subs):
            sub.offer(event)
        return event

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.append(sub)
        return sub

    def consume(self, handler: Callable[[Event], None], *, name: str,
                maxsize: int = 10_000) -> Consumer:
        """Run `handler` on every event in a background task (bounded queue: a slow handler
        loses the oldest events, never slows publishers)."""
        return Consumer(self, handler, name=name, maxsize=maxsize)

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
