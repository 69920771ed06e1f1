"""Fan-out of bus events to WebSocket clients: one bus subscription, one encoding per event.

Each client has an `Outbox` of encoded frames with a fixed size; a client that does not
keep up loses its oldest events (its `seq` shows the gap) and never slows the bus, the
other clients, or message handling.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from assistant_cli.gateway.protocol import (
    FORWARDED_EVENTS,
    TEXT_FIELDS,
    encode_event,
    event_frame,
)

if TYPE_CHECKING:
    from assistant_cli.domain.events import Consumer, Event, EventBus

OUTBOX_SIZE = 512
FLUSH_INTERVAL = 0.05


class Outbox:
    """One client's pending events, oldest dropped first when full."""

    def __init__(self, maxsize: int = OUTBOX_SIZE) -> None:
        self._items: deque[tuple[int, str, float, str]] = deque(maxlen=maxsize)
        self._wake = asyncio.Event()
        self.seq = 0
        self.dropped = 0

    def offer(self, name: str, ts: float, data_json: str) -> None:
        self.seq += 1
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append((self.seq, name, ts, data_json))
        self._wake.set()

    async def take(self) -> list[str]:
        """Wait for events, then (after a short gathering pause) return them all as frames."""
        while not self._items:
            self._wake.clear()
            await self._wake.wait()
        # Waking a writer per event would cost message handling a task switch per event per
        # client; gathering for a moment costs a watching human nothing.
        await asyncio.sleep(FLUSH_INTERVAL)
        frames = [event_frame(name, seq, ts, data) for seq, name, ts, data in self._items]
        self._items.clear()
        return frames


class EventHub:
    """Reads the bus once and copies each forwarded event into every client's outbox."""

    def __init__(self, events: EventBus, *, expose_text: bool) -> None:
        self.events = events
        self.expose_text = expose_text
        self.outboxes: set[Outbox] = set()
        self._consumer: Consumer | None = None
        # On a shared PostgreSQL state: this replica's name, added to every event's data
        # (object-shaped ones) so a dashboard tells replicas apart; None on one process.
        self.replica: str | None = None

    def relay(self, name: str, ts: float, data: dict[str, Any]) -> None:
        """An event from another replica (it carries its `replica`), or a replica's metrics
        (`REPLICA_METRICS`), to every client; message text only if this gateway shows it."""
        if not self.outboxes or name not in FORWARDED_EVENTS:
            return
        if not self.expose_text:
            data = {k: v for k, v in data.items() if k not in TEXT_FIELDS}
        encoded = json.dumps(data, separators=(",", ":"), default=str)
        for box in list(self.outboxes):
            box.offer(name, ts, encoded)

    def attach(self) -> Outbox:
        box = Outbox()
        self.outboxes.add(box)
        return box

    def detach(self, box: Outbox) -> None:
        self.outboxes.discard(box)

    def start(self) -> None:
        self._consumer = self.events.consume(self._fan_out, name="gateway-hub")

    def _fan_out(self, event: Event) -> None:
        if not self.outboxes:
            return
        data = encode_event(event, self.expose_text)
        if data is None:
            return
        if self.replica is not None and data.startswith("{"):
            tag = f'"replica":{json.dumps(self.replica)}'
            data = "{" + tag + ("}" if data == "{}" else "," + data[1:])
        for box in list(self.outboxes):
            box.offer(event.name, event.ts, data)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
