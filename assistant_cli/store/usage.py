"""Token usage per UTC day, provider and sender, and the latest health of each provider.

Days are UTC dates, so a per-sender daily cap resets at 00:00 UTC wherever `serve` runs.
A sender is `platform:user_id`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from assistant_cli.errors import ProviderError
from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database

log = logging.getLogger("assistant_cli.store")

# Successes are written at most this often per provider; failures always are.
HEALTH_WRITE_INTERVAL = 60.0


def utc_day(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(ts if ts is not None else time.time(),
                                     tz=dt.timezone.utc).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class UsageRow:
    """Tokens summed over some grouping (a provider, a sender, a day)."""

    key: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    estimated: int  # requests whose counts were estimated, not reported by the service

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Health:
    """The latest known outcome of talking to a provider."""

    provider: str
    checked_at: float
    ok: bool
    kind: str | None
    status: int | None
    latency_ms: float | None
    detail: str
    source: str  # "serve" (real traffic) or "test" (`providers test`)


class UsageLedger:
    """Records and sums token usage."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def record(self, provider: str, sender: str, prompt_tokens: int,
                     completion_tokens: int, *, estimated: bool = False) -> None:
        """Add one request's tokens (through the group-commit writer, off the event loop)."""
        params = (utc_day(self.clock()), provider, sender, max(0, prompt_tokens),
                  max(0, completion_tokens), int(estimated))
        await self.db.write(lambda conn: conn.execute(
            "INSERT INTO usage_daily (day, provider, sender, requests, prompt_tokens,"
            " completion_tokens, estimated) VALUES (?, ?, ?, 1, ?, ?, ?)"
            " ON CONFLICT (day, provider, sender) DO UPDATE SET"
            " requests = usage_daily.requests + 1,"
            " prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,"
            " estimated = usage_daily.estimated + excluded.estimated", params), durable=False)

    def used_today(self, sender: str) -> int:
        """Tokens in + out a sender used today (UTC), across providers."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage_daily"
            " WHERE day = ? AND sender = ?", (utc_day(self.clock()), sender)).fetchone()
        return int(row[0])

    def totals(self, by: str, *, days: int = 1) -> list[UsageRow]:
        """Sums per `provider` or `sender` over the last `days` UTC days (1 = today)."""
        if by not in ("provider", "sender"):
            raise ValueError(by)
        since = utc_day(self.clock() - 86400 * (days - 1))
        rows = self.db.execute(
            f"SELECT {by}, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens),"
            f" SUM(estimated) FROM usage_daily WHERE day >= ? GROUP BY {by} ORDER BY {by}",
            (since,)).fetchall()
        return [UsageRow(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


class HealthLog:
    """Latest health per provider; `serve` reports real traffic, `providers test` probes."""

    def __init__(self, db: Database, source: str = "serve",
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.source = source
        self.clock = clock
        self._written: dict[str, tuple[bool, float]] = {}
        self._writes: set[asyncio.Task[None]] = set()

    def record(self, provider: str, ok: bool, *, kind: str | None = None,
               status: int | None = None, latency_ms: float | None = None,
               detail: str = "") -> None:
        now = self.clock()
        previous = self._written.get(provider)
        if ok and previous and previous[0] and now - previous[1] < HEALTH_WRITE_INTERVAL:
            return  # a steady stream of successes needs no write per turn
        self._written[provider] = (ok, now)
        params = (provider, now, int(ok), kind, status, latency_ms, detail[:500], self.source)

        def write(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO provider_health (provider, checked_at, ok, kind, status,"
                " latency_ms, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (provider) DO UPDATE SET checked_at = excluded.checked_at,"
                " ok = excluded.ok, kind = excluded.kind, status = excluded.status,"
                " latency_ms = excluded.latency_ms, detail = excluded.detail,"
                " source = excluded.source", params)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a command without an event loop (`providers test`)
            with self.db.transaction(durable=False) as conn:
                write(conn)
            return
        # In serve (an outage means one of these per failed call): through the writer, so
        # the event loop never waits for the state file's lock.
        task = loop.create_task(self.db.write(write, durable=False))
        self._writes.add(task)
        task.add_done_callback(self._written_off)

    def _written_off(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not record provider health: %s", task.exception(),
                        extra={"event": "provider.health_unrecorded"})

    def hook(self, name: str, error: object) -> None:
        """Adapter for ProviderRouter's `health` callback."""
        if isinstance(error, ProviderError):
            self.record(name, False, kind=error.kind, status=error.status, detail=error.message)
        else:
            self.record(name, True)

    def latest(self) -> dict[str, Health]:
        rows = self.db.execute("SELECT * FROM provider_health").fetchall()
        return {r["provider"]: Health(r["provider"], r["checked_at"], bool(r["ok"]), r["kind"],
                                      r["status"], r["latency_ms"], r["detail"], r["source"])
                for r in rows}
