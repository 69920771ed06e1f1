"""Conversation history per session, the memory a model sees on each turn."""

from __future__ import annotations

import time

from assistant_cli.domain.messages import ChatTurn
from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database


class History:
    """Turns of each session (one session per platform chat), oldest first."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def recent(self, session: str, limit: int) -> list[ChatTurn]:
        """The last `limit` turns of a session, in order."""
        if limit <= 0:
            return []
        rows = self.db.execute(
            "SELECT role, content FROM history WHERE session = ? ORDER BY id DESC LIMIT ?",
            (session, limit),
        ).fetchall()
        return [ChatTurn(r["role"], r["content"]) for r in reversed(rows)]

    @staticmethod
    def append_exchange(
        conn: Conn, session: str, user: str, assistant: str, inbox_id: int
    ) -> None:
        """Store a question and its answer inside the caller's transaction."""
        now = time.time()
        conn.executemany(
            "INSERT INTO history (session, role, content, inbox_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(session, "user", user, inbox_id, now),
             (session, "assistant", assistant, inbox_id, now)],
        )

    def clear(self, session: str) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM history WHERE session = ?", (session,)).rowcount

    def count(self, session: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM history WHERE session = ?", (session,))
        return int(row.fetchone()[0])
