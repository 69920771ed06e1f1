"""The event bus: what happened inside `serve`, for metrics, logs and the gateway.

Publishing never blocks: each subscriber has a bounded queue, and a subscriber that
falls behind loses its oldest events (and is told how many) rather than slowing
message handling down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """Something that happened: `name` like `message.out`, `data` JSON-friendly."""

    name: str
    data: dict[str, Any]
    ts: float = field(default_factory=time.time)


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
    """A background task that hands every event to `handler`; `stop()` ends it."""

    def __init__(self, bus: EventBus, handler: Callable[[Event], None], *, name: str,
                 maxsize: int) -> None:
        sub = bus.subscribe(maxsize)

        async def run() -> None:
            try:
                async for event in sub:
                    handler(event)
            finally:
                sub.close()

        self._task: asyncio.Task[None] | None = asyncio.create_task(run(), name=name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class EventBus:
    """Fan-out of events to subscribers inside one process."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def publish(self, name: str, /, **data: Any) -> Event:
        event = Event(name, data)
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
