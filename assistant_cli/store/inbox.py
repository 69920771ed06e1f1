"""The durable inbox: at-least-once delivery of inbound messages, in order per conversation.

Life of a row: queued → claimed → done (or failed after too many attempts). A reply is
recorded in `replies` before it is sent and marked sent before the row is marked done, so
a crash at any point is repaired by `recover()` at the next start: the row is queued again
and the worker resends a stored reply instead of asking the model twice. Writes on the hot
path are coroutines that go through the group-commit writer (store/writer.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant_cli.domain.messages import InboundMessage, InboxItem
from assistant_cli.store.db import Database
from assistant_cli.store.history import History

# (conversation, user text, assistant text): appended to history as a message is finished.
Exchange = tuple[str, str, str]


@dataclass(frozen=True)
class InboxCounts:
    queued: int
    claimed: int
    done: int
    failed: int


class InboxStore(Protocol):
    """What intake and workers need of an inbox, whichever database holds it: SQLite
    (`Inbox`, one process) or PostgreSQL (`store.pg_inbox.PgInbox`, several replicas)."""

    async def add_many(self, msgs: Sequence[InboundMessage]) -> list[int | None]: ...

    async def claim(self, platforms: Collection[str] | None = None) -> InboxItem | None: ...

    async def record_reply(self, inbox_id: int, text: str) -> None: ...

    async def finish(self, inbox_id: int, outcome: str, *, sent: bool = False,
                     exchange: Exchange | None = None) -> None: ...

    async def release(self, inbox_id: int, error: str) -> bool: ...

    async def recover(self) -> int: ...

    def depth(self, platforms: Collection[str] | None = None) -> int:
        """Messages queued or in flight (of `platforms` only, when given)."""
        ...


class Inbox:
    """Inbound messages stored before they are acknowledged to the platform."""

    def __init__(self, db: Database, *, max_attempts: int = 5) -> None:
        self.db = db
        self.max_attempts = max_attempts

    async def add(self, msg: InboundMessage) -> int | None:
        """Store a message; returns its row id, or None when it was already stored."""
        return (await self.add_many([msg]))[0]

    async def add_many(self, msgs: Sequence[InboundMessage]) -> list[int | None]:
        """Store messages in one durable commit; each one's row id, None for a duplicate.

        Returns only after the commit (fsync), so the caller may acknowledge them then.
        """
        return await self.db.write(lambda conn: [_insert(conn, msg) for msg in msgs])

    async def claim(self, platforms: Collection[str] | None = None) -> InboxItem | None:
        """Claim the oldest queued message whose conversation has nothing in flight.

        With `platforms`, only messages of those platforms: a message whose channel is not
        running in this process stays queued, untouched, for a run that has it.
        """
        only, params = _platform_filter("q", platforms)
        sql = ("SELECT * FROM inbox AS q WHERE q.status = 'queued'" + only + " AND NOT EXISTS ("
               " SELECT 1 FROM inbox AS c WHERE c.status = 'claimed'"
               " AND c.conversation = q.conversation) ORDER BY q.id LIMIT 1")

        def claim(conn: sqlite3.Connection) -> InboxItem | None:
            row = conn.execute(sql, params).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE inbox SET status = 'claimed', attempts = attempts + 1, claimed_at = ?"
                " WHERE id = ?",
                (time.time(), row["id"]),
            )
            reply = conn.execute(
                "SELECT text, state FROM replies WHERE inbox_id = ?", (row["id"],)
            ).fetchone()
            return InboxItem(
                id=row["id"],
                message=row_message(row),
                attempts=row["attempts"] + 1,
                reply_text=reply["text"] if reply else None,
                reply_sent=bool(reply and reply["state"] == "sent"),
            )

        return await self.db.write(claim, durable=False)

    async def record_reply(self, inbox_id: int, text: str) -> None:
        """Remember a generated reply before sending it, so a restart resends, not regenerates."""
        def record(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO replies (inbox_id, text, state, created_at)"
                " VALUES (?, ?, 'generated', ?)"
                " ON CONFLICT (inbox_id) DO UPDATE SET text = excluded.text",
                (inbox_id, text, time.time()),
            )

        await self.db.write(record, durable=False)

    async def finish(
        self,
        inbox_id: int,
        outcome: str,
        *,
        sent: bool = False,
        also: Callable[[sqlite3.Connection], None] | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        """Mark a message done (and its reply sent) in one transaction.

        `exchange` is appended to history, and `also` runs, inside the same transaction, so
        that a crash leaves either everything or nothing.
        """
        def finish(conn: sqlite3.Connection) -> None:
            now = time.time()
            if exchange is not None:
                History.append_exchange(conn, *exchange, inbox_id)
            if also is not None:
                also(conn)
            if sent:
                conn.execute(
                    "UPDATE replies SET state = 'sent', sent_at = ? WHERE inbox_id = ?",
                    (now, inbox_id),
                )
            conn.execute(
                "UPDATE inbox SET status = 'done', outcome = ?, finished_at = ?, error = NULL"
                " WHERE id = ?",
                (outcome, now, inbox_id),
            )

        await self.db.write(finish, durable=False)

    async def release(self, inbox_id: int, error: str) -> bool:
        """Give a claimed message back after a failure; True if it will be tried again."""
        def release(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT attempts FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            retry = row is not None and row["attempts"] < self.max_attempts
            conn.execute(
                "UPDATE inbox SET status = ?, error = ?, finished_at = ? WHERE id = ?",
                ("queued" if retry else "failed", error[:500], None if retry else time.time(),
                 inbox_id),
            )
            return retry

        return await self.db.write(release, durable=False)

    async def recover(self) -> int:
        """Queue again what a previous process claimed but never finished; returns how many."""
        return await self.db.write(lambda conn: conn.execute(
            "UPDATE inbox SET status = 'queued' WHERE status = 'claimed'").rowcount)

    def depth(self, platforms: Collection[str] | None = None) -> int:
        """Messages queued or in flight (of `platforms` only, when given)."""
        only, params = _platform_filter("inbox", platforms)
        row = self.db.execute(
            "SELECT COUNT(*) FROM inbox WHERE status IN ('queued', 'claimed')" + only, params
        ).fetchone()
        return int(row[0])

    def counts(self) -> InboxCounts:
        sql = "SELECT status, COUNT(*) FROM inbox GROUP BY status"
        rows = dict(self.db.execute(sql).fetchall())
        return InboxCounts(*(int(rows.get(s, 0)) for s in ("queued", "claimed", "done", "failed")))

    def get(self, inbox_id: int) -> InboundMessage | None:
        row = self.db.execute("SELECT * FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
        return row_message(row) if row else None


def _insert(conn: sqlite3.Connection, msg: InboundMessage) -> int | None:
    cur = conn.execute(
        "INSERT OR IGNORE INTO inbox (platform, external_id, conversation, chat_id,"
        " sender_id, sender_name, kind, text, meta, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (msg.platform, msg.external_id, msg.conversation, msg.chat_id, msg.sender_id,
         msg.sender_name, msg.kind, msg.text, dump_meta(msg), msg.received_at),
    )
    return cur.lastrowid if cur.rowcount else None


def _platform_filter(table: str, platforms: Collection[str] | None) -> tuple[str, tuple[str, ...]]:
    """An `AND table.platform IN (...)` clause and its parameters; empty without a filter."""
    if platforms is None:
        return "", ()
    names = tuple(platforms)
    marks = ", ".join("?" * len(names)) or "NULL"  # IN (NULL) matches nothing
    return f" AND {table}.platform IN ({marks})", names


def dump_meta(msg: InboundMessage) -> str:
    """The `meta` column: the platform's extras plus the group flags."""
    return json.dumps(
        {**msg.meta, "is_group": msg.is_group, "addressed": msg.addressed}, separators=(",", ":")
    )


def row_message(r: sqlite3.Row | Mapping[str, Any]) -> InboundMessage:
    """The message of an inbox row (of either backend)."""
    meta = json.loads(r["meta"])
    is_group = bool(meta.pop("is_group", False))
    addressed = bool(meta.pop("addressed", True))
    return InboundMessage(
        platform=r["platform"], external_id=r["external_id"], chat_id=r["chat_id"],
        sender_id=r["sender_id"], text=r["text"], sender_name=r["sender_name"],
        kind=r["kind"], is_group=is_group, addressed=addressed,
        received_at=r["received_at"], meta=meta,
    )
