"""The durable inbox: at-least-once delivery of inbound messages, in order per conversation.

Life of a row: queued → claimed → done, or back to queued with a `not_before` time after a
failed try, or failed when store/retry.py gives it up. A reply is recorded in `replies`
before it is sent and marked sent before the row is marked done, so a crash at any point
is repaired by `recover()` at the next start: the row is queued again and the worker
resends a stored reply instead of asking the model twice. A row waiting for its retry
holds back the later messages of its conversation, so answers keep their order. Writes on
the hot path are coroutines that go through the group-commit writer (store/writer.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant_cli.domain.messages import DeliveryFailure, InboundMessage, InboxItem
from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.retry import Decision, RetryPolicy

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

    clock: Callable[[], float]

    async def add_many(self, msgs: Sequence[InboundMessage]) -> list[int | None]: ...

    async def claim(self, platforms: Collection[str] | None = None) -> InboxItem | None: ...

    async def record_reply(self, inbox_id: int, text: str) -> None: ...

    async def finish(self, inbox_id: int, outcome: str, *, sent: bool = False,
                     exchange: Exchange | None = None) -> None: ...

    async def release(self, inbox_id: int, error: str,
                      failure: DeliveryFailure | None = None) -> Decision: ...

    async def put_back(self, inbox_id: int) -> None: ...

    async def recover(self) -> int: ...

    def depth(self, platforms: Collection[str] | None = None) -> int:
        """Messages queued or in flight (of `platforms` only, when given)."""
        ...


# Claimable: queued, due, the first queued of its conversation, and nothing of its
# conversation in flight.
_CLAIM = ("SELECT * FROM inbox AS q WHERE q.status = 'queued' AND q.not_before <= ?{only}"
          " AND NOT EXISTS (SELECT 1 FROM inbox AS c WHERE c.conversation = q.conversation"
          " AND (c.status = 'claimed' OR (c.status = 'queued' AND c.id < q.id)))"
          " ORDER BY q.id LIMIT 1")


class Inbox:
    """Inbound messages stored before they are acknowledged to the platform."""

    def __init__(self, db: Database, *, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.policy = policy or RetryPolicy()
        self.clock = clock

    async def add(self, msg: InboundMessage) -> int | None:
        """Store a message; returns its row id, or None when it was already stored."""
        return (await self.add_many([msg]))[0]

    async def add_many(self, msgs: Sequence[InboundMessage]) -> list[int | None]:
        """Store messages in one durable commit; each one's row id, None for a duplicate.

        Returns only after the commit (fsync), so the caller may acknowledge them then.
        """
        return await self.db.write(lambda conn: [_insert(conn, msg) for msg in msgs])

    async def claim(self, platforms: Collection[str] | None = None) -> InboxItem | None:
        """Claim the oldest queued message that is due and first of its conversation,
        whose conversation has nothing in flight.

        With `platforms`, only messages of those platforms: a message whose channel is not
        running in this process stays queued, untouched, for a run that has it.
        """
        only, params = _platform_filter("q", platforms)
        sql = _CLAIM.format(only=only)
        now = self.clock()

        def claim(conn: Conn) -> InboxItem | None:
            row = conn.execute(sql, (now, *params)).fetchone()
            if row is None:
                return None
            # `status = 'queued'` again: on PostgreSQL another process may have claimed the
            # row since the SELECT (its UPDATE then waits and finds nothing to change).
            if conn.execute(
                "UPDATE inbox SET status = 'claimed', attempts = attempts + 1, claimed_at = ?"
                " WHERE id = ? AND status = 'queued'",
                (now, row["id"]),
            ).rowcount == 0:
                return None
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
        def record(conn: Conn) -> None:
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
        also: Callable[[Conn], None] | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        """Mark a message done (and its reply sent) in one transaction.

        `exchange` is appended to history, and `also` runs, inside the same transaction, so
        that a crash leaves either everything or nothing.
        """
        def finish(conn: Conn) -> None:
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

    async def release(self, inbox_id: int, error: str,
                      failure: DeliveryFailure | None = None) -> Decision:
        """Give a claimed message back after a failed try: queued again, not before the
        time the retry policy sets, or failed when it gives up. `failure` is the channel's
        classification (None: not a delivery failure)."""
        now = self.clock()

        def release(conn: Conn) -> Decision:
            row = conn.execute("SELECT attempts, first_failed_at FROM inbox WHERE id = ?",
                               (inbox_id,)).fetchone()
            if row is None:
                return Decision(False, reason="missing")
            first = row["first_failed_at"] if row["first_failed_at"] is not None else now
            decision = self.policy.decide(failure, attempts=row["attempts"],
                                          first_failed_at=first, now=now)
            _apply(conn, inbox_id, decision, error, first, now)
            return decision

        return await self.db.write(release, durable=False)

    async def put_back(self, inbox_id: int) -> None:
        """Queue a claimed message again at once, uncounted (its turn was interrupted)."""
        await self.db.write(lambda conn: conn.execute(
            "UPDATE inbox SET status = 'queued', attempts = CASE WHEN attempts > 0"
            " THEN attempts - 1 ELSE 0 END WHERE id = ? AND status = 'claimed'", (inbox_id,)),
            durable=False)

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


def _apply(conn: Conn, inbox_id: int, decision: Decision, error: str,
           first: float, now: float) -> None:
    """Write a retry decision: queued again not before its time, or failed."""
    if decision.retry:
        conn.execute(
            "UPDATE inbox SET status = 'queued', error = ?, not_before = ?,"
            " first_failed_at = ? WHERE id = ?",
            (error[:500], decision.not_before, first, inbox_id))
        return
    # Someone who blocked the bot cannot be told; anyone else is, later.
    notice = None if decision.reason == "permanent" else "pending"
    conn.execute(
        "UPDATE inbox SET status = 'failed', error = ?, outcome = ?,"
        " finished_at = ?, first_failed_at = ?, notice = ? WHERE id = ?",
        (error[:500], decision.reason, now, first, notice, inbox_id))


def _insert(conn: Conn, msg: InboundMessage) -> int | None:
    row = conn.execute(
        "INSERT INTO inbox (platform, external_id, conversation, chat_id,"
        " sender_id, sender_name, kind, text, meta, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, external_id) DO NOTHING RETURNING id",
        (msg.platform, msg.external_id, msg.conversation, msg.chat_id, msg.sender_id,
         msg.sender_name, msg.kind, msg.text, dump_meta(msg), msg.received_at),
    ).fetchone()
    return int(row[0]) if row is not None else None


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


def row_message(r: Any) -> InboundMessage:
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
