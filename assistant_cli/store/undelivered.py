"""Messages whose answer could not be delivered: waiting for a retry, or given up.

What `assistant-cli inbox failed|retry`, `doctor`, /metrics and the dashboard read, and the
queue of "I could not answer you" notices that `serve` sends once a channel works again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from assistant_cli.store.db import Database


@dataclass(frozen=True)
class FailedMessage:
    """One given-up message, as `inbox failed` lists it."""

    id: int
    platform: str
    chat_id: str
    sender_id: str
    text: str
    received_at: float
    failed_at: float | None
    attempts: int
    reason: str  # permanent, expired, attempts
    error: str
    notice: str | None  # pending, sent, or None (nobody to tell)


@dataclass(frozen=True)
class PendingNotice:
    """The given-up messages of one chat whose sender has not been told yet."""

    platform: str
    chat_id: str
    ids: tuple[int, ...]
    first_text: str


@dataclass(frozen=True)
class UndeliveredCounts:
    failed: int  # given up
    waiting: int  # queued for a retry after a failed try


class Undelivered:
    """Reads and repairs the given-up rows of the inbox."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def counts(self) -> UndeliveredCounts:
        row = self.db.execute(  # CASE rather than SUM(boolean): portable to PostgreSQL
            "SELECT COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'queued' AND first_failed_at IS NOT NULL"
            " THEN 1 ELSE 0 END), 0) FROM inbox WHERE status IN ('failed', 'queued')"
        ).fetchone()
        return UndeliveredCounts(int(row[0]), int(row[1]))

    def failed(self) -> list[FailedMessage]:
        """Every given-up message, oldest first."""
        rows = self.db.execute(
            "SELECT id, platform, chat_id, sender_id, text, received_at, finished_at, attempts,"
            " outcome, error, notice FROM inbox WHERE status = 'failed' ORDER BY id").fetchall()
        return [FailedMessage(r["id"], r["platform"], r["chat_id"], r["sender_id"], r["text"],
                              r["received_at"], r["finished_at"], r["attempts"],
                              r["outcome"] or "", r["error"] or "", r["notice"])
                for r in rows]

    def requeue(self, ids: Sequence[int] | None = None) -> list[int]:
        """Queue given-up messages again with a fresh retry window (all when `ids` is None);
        returns the ids requeued. A stored reply is still resent, not regenerated."""
        with self.db.transaction() as conn:
            if ids is None:
                found = [int(r[0]) for r in conn.execute(
                    "SELECT id FROM inbox WHERE status = 'failed' ORDER BY id").fetchall()]
            else:
                marks = ", ".join("?" * len(ids)) or "NULL"
                found = [int(r[0]) for r in conn.execute(
                    f"SELECT id FROM inbox WHERE status = 'failed' AND id IN ({marks})"
                    " ORDER BY id", tuple(ids)).fetchall()]
            conn.executemany(
                "UPDATE inbox SET status = 'queued', attempts = 0, not_before = 0,"
                " first_failed_at = NULL, finished_at = NULL, outcome = NULL, notice = NULL"
                " WHERE id = ?", [(i,) for i in found])
        return found

    def pending_notices(self, platforms: Collection[str]) -> list[PendingNotice]:
        """Chats of `platforms` owed a notice, with the ids it covers."""
        names = tuple(platforms)
        if not names:
            return []
        marks = ", ".join("?" * len(names))
        rows = self.db.execute(
            "SELECT id, platform, chat_id, text FROM inbox WHERE notice = 'pending'"
            f" AND platform IN ({marks}) ORDER BY id", names).fetchall()
        by_chat: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for r in rows:
            by_chat.setdefault((r["platform"], r["chat_id"]), []).append((r["id"], r["text"]))
        return [PendingNotice(platform, chat, tuple(i for i, _ in items), items[0][1])
                for (platform, chat), items in by_chat.items()]

    def mark_noticed(self, ids: Sequence[int], state: str = "sent") -> None:
        """`sent` once the sender was told; `unreachable` when they cannot be."""
        with self.db.transaction(durable=False) as conn:
            conn.executemany("UPDATE inbox SET notice = ? WHERE id = ? AND notice = 'pending'",
                             [(state, i) for i in ids])
