"""Events between `serve` replicas on one PostgreSQL database: LISTEN/NOTIFY.

A replica sends what its dashboard clients would see (messages in and out, failures, its
metrics) to every other replica, so a dashboard connected to any replica sees them all.
Sending is batched: events queue in memory and go out as one NOTIFY (a JSON array, under
PostgreSQL's 8000-byte payload limit) every `flush_every` seconds, so a busy replica pays
one round trip per batch, not per event; a full queue drops its oldest (events are for
watching, never for correctness). Listening uses a connection of its own and reconnects
after the database comes back.

psycopg is imported inside functions: it is the optional `postgres` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant_cli.store.pg_inbox import INBOX_CHANNEL

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("assistant_cli.store.pg")

CHANNEL = "assistant_events"
MAX_PAYLOAD = 7000  # bytes of one NOTIFY (the server's limit is 8000)
MAX_QUEUED = 2000


def batches(items: list[str], limit: int = MAX_PAYLOAD) -> list[str]:
    """JSON arrays of the (already encoded) items, each under `limit` bytes; an item too
    big on its own is dropped."""
    out: list[str] = []
    current: list[str] = []
    size = 2
    for item in items:
        length = len(item.encode()) + 1
        if length + 2 > limit:
            continue
        if current and size + length > limit:
            out.append("[" + ",".join(current) + "]")
            current, size = [], 2
        current.append(item)
        size += length
    if current:
        out.append("[" + ",".join(current) + "]")
    return out


class PgEvents:
    """Publish encoded events to all replicas; hand every received one to `on_event`."""

    def __init__(self, pool: AsyncConnectionPool, url: str, *, password: str | None = None,
                 flush_every: float = 0.2) -> None:
        self.pool = pool
        self.url = url
        self.password = password
        self.flush_every = flush_every
        self._queue: deque[str] = deque(maxlen=MAX_QUEUED)
        self._wake = asyncio.Event()

    def publish(self, event: dict[str, Any]) -> None:
        """Queue one event (a JSON-ready dict) for the next batch; never blocks."""
        self._queue.append(json.dumps(event, separators=(",", ":"), default=str))
        self._wake.set()

    async def send_loop(self) -> None:
        """Send queued events in batches until cancelled (a lost database drops them)."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_every)
            self._wake.clear()
            items = list(self._queue)
            self._queue.clear()
            try:
                async with self.pool.connection() as conn:
                    for payload in batches(items):
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except Exception as exc:  # the database is away; events are for watching only
                log.debug("replica events not sent: %s", exc,
                          extra={"event": "replicas.notify_failed"})

    async def listen_loop(self, on_event: Callable[[dict[str, Any]], None],
                          on_inbox: Callable[[], None] = lambda: None) -> None:
        """Receive every replica's events (own ones included) until cancelled; `on_inbox`
        for each NOTIFY of a new inbox row (store/pg_inbox.py), and once after every
        (re)connection, since notifications sent meanwhile are lost."""
        from psycopg import AsyncConnection

        extra: dict[str, Any] = {} if self.password is None else {"password": self.password}
        while True:
            try:
                conn = await AsyncConnection.connect(self.url, autocommit=True,
                                                     connect_timeout=5, **extra)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {INBOX_CHANNEL}")
                    on_inbox()
                    async for note in conn.notifies():
                        if note.channel == INBOX_CHANNEL:
                            on_inbox()
                        else:
                            _deliver(note.payload, on_event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: listen again once it is back
                log.debug("replica events: listening again after %s", exc,
                          extra={"event": "replicas.listen_failed"})
            await asyncio.sleep(1.0)


def _deliver(payload: str, on_event: Callable[[dict[str, Any]], None]) -> None:
    try:
        events = json.loads(payload)
    except ValueError:
        return
    for event in events if isinstance(events, list) else ():
        if isinstance(event, dict):
            with contextlib.suppress(Exception):  # one bad consumer call never stops the rest
                on_event(event)
