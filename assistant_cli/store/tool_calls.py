"""Tool calls recorded per inbox row, remembered approvals, and the built-in memory.

A turn writes each call the model asked for before running it and its result right
after, so a turn resumed after a crash rebuilds the conversation from here and never
runs a tool whose result was recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistant_cli.domain.tools import ToolCall, ToolResult
from assistant_cli.store.db import Database

# A call found `running` after a restart was interrupted: its effect is unknown.
INTERRUPTED = ("the tool was interrupted by a restart before its result was recorded; "
               "it may or may not have taken effect")


@dataclass(frozen=True)
class RecordedCall:
    """One call as stored: the step it belongs to, and its result once there is one."""

    step: int
    seq: int
    call: ToolCall
    assistant_text: str
    status: str  # requested, running, done, error, declined
    result: ToolResult | None


@dataclass(frozen=True)
class Approval:
    """A remembered "yes" for a tool: for one sender everywhere, or in one chat."""

    id: int
    tool: str
    platform: str
    sender_id: str
    chat_id: str | None
    scope: str  # chat or always
    created_at: float


class ToolCallLog:
    """The tool_calls table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_requested(self, inbox_id: int, step: int, text: str,
                         calls: list[ToolCall]) -> None:
        """Write a step's calls (and the text before them) before any of them runs.

        Not fsynced: nothing has run yet, and `mark_running`'s fsync makes this durable too
        (WAL commits reach the disk in order)."""
        now = time.time()
        with self.db.transaction(durable=False) as conn:
            conn.executemany(
                "INSERT INTO tool_calls (inbox_id, step, seq, call_id, tool,"
                " arguments, assistant_text, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'requested', ?) ON CONFLICT DO NOTHING",
                [(inbox_id, step, seq, c.call_id, c.name, c.arguments, text, now)
                 for seq, c in enumerate(calls)])

    def mark_running(self, inbox_id: int, step: int, seq: int) -> None:
        """Fsynced before the tool runs: after any crash, even a power cut, a call that may
        have run is known as such and never run again."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE tool_calls SET status = 'running' WHERE inbox_id = ?"
                         " AND step = ? AND seq = ?", (inbox_id, step, seq))

    def record_result(self, inbox_id: int, step: int, seq: int, result: ToolResult,
                      status: str, duration_ms: float) -> None:
        """Store a result before the next model call. Not fsynced: a result lost to a power
        cut leaves the call `running`, which is reported as of unknown effect, not re-run."""
        with self.db.transaction(durable=False) as conn:
            conn.execute(
                "UPDATE tool_calls SET status = ?, result = ?, error = ?, finished_at = ?,"
                " duration_ms = ? WHERE inbox_id = ? AND step = ? AND seq = ?",
                (status, None if result.is_error else result.content,
                 result.content if result.is_error else None, time.time(), duration_ms,
                 inbox_id, step, seq))

    def for_inbox(self, inbox_id: int) -> list[RecordedCall]:
        rows = self.db.execute(
            "SELECT * FROM tool_calls WHERE inbox_id = ? ORDER BY step, seq", (inbox_id,)
        ).fetchall()
        out = []
        for r in rows:
            call = ToolCall(r["call_id"], r["tool"], r["arguments"])
            result = None
            if r["status"] in ("done", "error", "declined"):
                error = r["status"] != "done"
                result = ToolResult(call.call_id, call.name,
                                    r["error"] if error else r["result"], error)
            out.append(RecordedCall(r["step"], r["seq"], call, r["assistant_text"],
                                    r["status"], result))
        return out

    def runs_of(self, tool: str) -> int:
        """How many calls of `tool` finished (any status), for tests and `tools list`."""
        row = self.db.execute("SELECT COUNT(*) FROM tool_calls WHERE tool = ? AND status IN"
                              " ('done', 'error')", (tool,)).fetchone()
        return int(row[0])


class ApprovalStore:
    """Remembered decisions: "Allow in this chat" and "Always", revocable."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, tool: str, platform: str, sender_id: str, chat_id: str | None,
            scope: str) -> int:
        with self.db.transaction() as conn:
            return int(conn.execute(
                "INSERT INTO tool_approvals (tool, platform, sender_id, chat_id, scope,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (tool, platform, sender_id, chat_id if scope == "chat" else None, scope,
                 time.time())).fetchone()[0])

    def allowed(self, tool: str, platform: str, sender_id: str, chat_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM tool_approvals WHERE tool = ? AND platform = ? AND sender_id = ?"
            " AND revoked_at IS NULL AND (scope = 'always' OR chat_id = ?) LIMIT 1",
            (tool, platform, sender_id, chat_id)).fetchone()
        return row is not None

    def active(self) -> list[Approval]:
        rows = self.db.execute(
            "SELECT * FROM tool_approvals WHERE revoked_at IS NULL ORDER BY id").fetchall()
        return [Approval(r["id"], r["tool"], r["platform"], r["sender_id"], r["chat_id"],
                         r["scope"], r["created_at"]) for r in rows]

    def revoke(self, approval_id: int) -> Approval | None:
        """Revoke one approval; None when there is no such active approval."""
        found = next((a for a in self.active() if a.id == approval_id), None)
        if found is not None:
            with self.db.transaction() as conn:
                conn.execute("UPDATE tool_approvals SET revoked_at = ? WHERE id = ?",
                             (time.time(), approval_id))
        return found


class MemoryStore:
    """What `memory.remember` keeps per sender; `/reset` forgets it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def remember(self, sender: str, text: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO tool_memory (sender, text, created_at) VALUES (?, ?, ?)",
                         (sender, text, time.time()))

    def recall(self, sender: str, query: str = "", limit: int = 20) -> list[str]:
        rows = self.db.execute(
            "SELECT text FROM tool_memory WHERE sender = ? AND LOWER(text) LIKE LOWER(?)"
            " ORDER BY id DESC"
            " LIMIT ?", (sender, f"%{query}%", limit)).fetchall()
        return [r["text"] for r in reversed(rows)]

    def forget(self, sender: str) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM tool_memory WHERE sender = ?", (sender,)).rowcount
