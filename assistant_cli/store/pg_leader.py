"""One leader among `serve` replicas on PostgreSQL: a session advisory lock.

Telegram hands a bot's updates to one poller only, so exactly one replica may poll. The
replica that holds `pg_try_advisory_lock(key)` on its own connection is the leader; when
it dies, its connection ends and the server frees the lock, and the next replica to try
(every `interval` seconds) takes over. A leader also checks its connection at that pace,
so one that lost the database stops leading instead of believing it still does.

psycopg is imported inside functions: it is the optional `postgres` extra, not installed
with the SQLite default.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger("assistant_cli.store.pg")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a role name (e.g. "telegram-poller")."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgLeader:
    """Try to lead `name`; `is_leader` says whether this replica does right now."""

    def __init__(self, url: str, name: str, *, interval: float = 3.0,
                 password: str | None = None, application_name: str | None = None) -> None:
        self.url = url
        self.password = password  # kept out of the URL, so messages never show it
        self.application_name = application_name  # who leads, in pg_stat_activity
        self.name = name
        self.key = lock_key(name)
        self.interval = interval
        self.is_leader = False
        self.changed = asyncio.Event()  # set whenever is_leader flips
        self._conn: AsyncConnection[Any] | None = None

    async def try_lead(self) -> bool:
        """One attempt (or, when leading, one check that the lock is still ours)."""
        try:
            if self._conn is None or self._conn.closed:
                from psycopg import AsyncConnection

                extra: dict[str, Any] = {} if self.password is None else {
                    "password": self.password}
                if self.application_name:
                    extra["application_name"] = self.application_name
                self._conn = await AsyncConnection.connect(self.url, autocommit=True,
                                                           connect_timeout=5, **extra)
            if self.is_leader:
                await self._conn.execute("SELECT 1")  # the lock lives as long as this session
                return True
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
            self._set(bool(row and row[0]))
        except Exception as exc:  # the database went away: whatever we held is gone
            log.warning("leadership of %s lost or unavailable: %s", self.name, exc,
                        extra={"event": "leader.unavailable", "fields": {"role": self.name}})
            await self._drop()
        return self.is_leader

    async def run(self) -> None:
        """Keep trying (or checking) every `interval` seconds until cancelled."""
        try:
            while True:
                await self.try_lead()
                await asyncio.sleep(self.interval)
        finally:
            await self.resign()

    async def resign(self) -> None:
        """Give the role up now (a clean stop), so another replica need not wait."""
        if self.is_leader and self._conn is not None and not self._conn.closed:
            with contextlib.suppress(Exception):
                await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        self._set(False)

    def _set(self, leading: bool) -> None:
        if leading != self.is_leader:
            self.is_leader = leading
            self.changed.set()
            log.info("%s %s", "now leading" if leading else "no longer leading", self.name,
                     extra={"event": "leader.changed",
                            "fields": {"role": self.name, "leader": leading}})
