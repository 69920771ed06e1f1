"""Pairing: codes for unknown senders, and the list of senders the owner approved.

A code is 12 characters from an alphabet without look-alikes (no 0/O/1/I), shown as
ABCD-EFGH-JKLM, accepted with or without dashes in any case. Only its SHA-256 is stored
and comparison is constant-time. A request expires after an hour; five wrong codes lock
it; at most three requests per platform are pending (the oldest is dropped).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant_cli.errors import PairingError
from assistant_cli.store.db import Database

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
TTL_SECONDS = 3600.0
MAX_PENDING = 3
MAX_FAILED = 5
NO_LIMIT = 2**63 - 1  # LIMIT of "all rows" that both SQLite and PostgreSQL take


@dataclass(frozen=True)
class PairingRequest:
    id: int
    platform: str
    user_id: str
    chat_id: str
    display_name: str
    created_at: float
    expires_at: float
    failed_attempts: int
    status: str


@dataclass(frozen=True)
class Sender:
    platform: str
    user_id: str
    chat_id: str
    display_name: str
    approved_at: float
    approved_by: str
    via: str


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in "- \t")


def _hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


class PairingStore:
    """Pairing requests and approved senders, shared by `serve` and the CLI."""

    def __init__(self, db: Database, *, clock: Callable[[], float] | None = None) -> None:
        self.db = db
        self.now = clock or time.time

    # -- senders --------------------------------------------------------------------
    def is_approved(self, platform: str, user_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM senders WHERE platform = ? AND user_id = ?",
                              (platform, user_id)).fetchone()
        return row is not None

    def senders(self, platform: str | None = None, *, limit: int | None = None,
                offset: int = 0) -> list[Sender]:
        """Approved senders, oldest approval first; `limit`/`offset` page through them."""
        rows = self.db.execute(
            "SELECT * FROM senders WHERE CAST(? AS TEXT) IS NULL OR platform = ?"
            " ORDER BY approved_at, platform, user_id LIMIT ? OFFSET ?",
            (platform, platform, NO_LIMIT if limit is None else limit, offset)).fetchall()
        return [Sender(r["platform"], r["user_id"], r["chat_id"], r["display_name"],
                       r["approved_at"], r["approved_by"], r["via"]) for r in rows]

    def count_senders(self, platform: str | None = None) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM senders WHERE CAST(? AS TEXT) IS NULL OR platform = ?",
            (platform, platform)).fetchone()
        return int(row[0])

    def allow(self, platform: str, user_id: str, actor: str, *, chat_id: str | None = None,
              display_name: str = "", via: str = "allow") -> bool:
        """Approve a sender; False if they already were. Their open request, if any, is
        closed as approved (they are no longer waiting)."""
        now = self.now()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO senders (platform, user_id, chat_id, display_name,"
                " approved_at, approved_by, via) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id) DO NOTHING",
                (platform, user_id, chat_id or user_id, display_name, now, actor, via))
            conn.execute("UPDATE pairing_requests SET status = 'approved', decided_at = ?,"
                         " decided_by = ? WHERE platform = ? AND user_id = ?"
                         " AND status IN ('pending', 'locked')", (now, actor, platform, user_id))
            return cur.rowcount > 0

    def revoke(self, platform: str, user_id: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM senders WHERE platform = ? AND user_id = ?",
                                (platform, user_id)).rowcount > 0

    def unnotified(self) -> list[Sender]:
        rows = self.db.execute("SELECT * FROM senders WHERE notified = 0 AND via = 'code'")
        return [Sender(r["platform"], r["user_id"], r["chat_id"], r["display_name"],
                       r["approved_at"], r["approved_by"], r["via"]) for r in rows.fetchall()]

    def claim_notice(self, platform: str, user_id: str) -> bool:
        """Take the job of telling a newly approved sender they are paired; True for exactly
        one caller (the notifier loop and the sender's own next message race for it)."""
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE senders SET notified = 1 WHERE platform = ? AND user_id = ?"
                " AND notified = 0 AND via = 'code'", (platform, user_id)).rowcount > 0

    def release_notice(self, platform: str, user_id: str) -> None:
        """Give the notice back after a failed send, so it is tried again."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE senders SET notified = 0 WHERE platform = ? AND user_id = ?",
                         (platform, user_id))

    # -- requests -------------------------------------------------------------------
    def request_code(self, platform: str, user_id: str, chat_id: str,
                     display_name: str = "") -> str | None:
        """A new code for an unknown sender, or None when they already have a live request
        (or one locked or denied within the hour): no new code and no reply, so repeated
        messages don't storm and a refusal sticks."""
        now = self.now()
        with self.db.transaction() as conn:
            # Replicas handling two messages of one sender at once make one request.
            self.db.serialize(conn, f"pairing:{platform}")
            conn.execute("UPDATE pairing_requests SET status = 'expired' WHERE status = 'pending'"
                         " AND expires_at <= ?", (now,))
            live = conn.execute(
                "SELECT status FROM pairing_requests WHERE platform = ? AND user_id = ? AND"
                " (status = 'pending' OR (status IN ('locked', 'denied') AND expires_at > ?))",
                (platform, user_id, now)).fetchone()
            if live is not None:
                return None
            pending = conn.execute(
                "SELECT id FROM pairing_requests WHERE platform = ? AND status = 'pending'"
                " ORDER BY created_at", (platform,)).fetchall()
            for row in pending[: max(0, len(pending) - MAX_PENDING + 1)]:
                conn.execute("UPDATE pairing_requests SET status = 'dropped' WHERE id = ?",
                             (row["id"],))
            code = new_code()
            conn.execute(
                "INSERT INTO pairing_requests (platform, user_id, chat_id, display_name,"
                " code_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (platform, user_id, chat_id, display_name, _hash(code), now, now + TTL_SECONDS))
        return code

    def pending(self, platform: str | None = None) -> list[PairingRequest]:
        rows = self.db.execute(
            "SELECT * FROM pairing_requests WHERE status IN ('pending', 'locked')"
            " AND (CAST(? AS TEXT) IS NULL OR platform = ?) AND expires_at > ? ORDER BY created_at",
            (platform, platform, self.now())).fetchall()
        return [_request(r) for r in rows]

    def _open_request(self, platform: str, user_id: str) -> PairingRequest:
        row = self.db.execute(
            "SELECT * FROM pairing_requests WHERE platform = ? AND user_id = ?"
            " AND status IN ('pending', 'locked') ORDER BY id DESC LIMIT 1",
            (platform, user_id)).fetchone()
        if row is None:
            raise PairingError(
                f"no pending pairing request from {platform} user {user_id}",
                hint="ask them to message the bot for a code; `assistant-cli pairing list` "
                "shows pending requests")
        return _request(row)

    def approve(self, platform: str, user_id: str, code: str, actor: str) -> PairingRequest:
        """Check the code and approve; raises PairingError (wrong, expired, locked)."""
        req = self._open_request(platform, user_id)
        now = self.now()
        if req.status == "locked":
            raise PairingError(
                f"the pairing request from {platform} user {user_id} is locked after "
                f"{MAX_FAILED} wrong codes",
                hint="deny it (`assistant-cli pairing deny`) or wait an hour for it to expire; "
                "they can then ask for a new code")
        if req.expires_at <= now:
            with self.db.transaction() as conn:
                conn.execute("UPDATE pairing_requests SET status = 'expired' WHERE id = ?",
                             (req.id,))
            raise PairingError(f"the pairing code for {platform} user {user_id} has expired",
                               hint="ask them to message the bot again for a new code")
        stored = self.db.execute("SELECT code_hash FROM pairing_requests WHERE id = ?",
                                 (req.id,)).fetchone()["code_hash"]
        if not hmac.compare_digest(stored, _hash(code)):
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE pairing_requests SET failed_attempts = failed_attempts + 1,"
                    " status = CASE WHEN failed_attempts + 1 >= ? THEN 'locked' ELSE status END"
                    " WHERE id = ?", (MAX_FAILED, req.id))
            left = MAX_FAILED - req.failed_attempts - 1
            raise PairingError(
                f"wrong pairing code for {platform} user {user_id}"
                + (f" ({left} tries left)" if left > 0 else "; the request is now locked"),
                hint="copy the code exactly as the bot sent it (dashes and case don't matter)")
        with self.db.transaction() as conn:
            conn.execute("UPDATE pairing_requests SET status = 'approved', decided_at = ?,"
                         " decided_by = ? WHERE id = ?", (now, actor, req.id))
            conn.execute(
                "INSERT INTO senders (platform, user_id, chat_id, display_name,"
                " approved_at, approved_by, via, notified) VALUES (?, ?, ?, ?, ?, ?, 'code', 0)"
                " ON CONFLICT (platform, user_id) DO UPDATE SET chat_id = excluded.chat_id,"
                " display_name = excluded.display_name, approved_at = excluded.approved_at,"
                " approved_by = excluded.approved_by, via = excluded.via, notified = 0",
                (platform, user_id, req.chat_id, req.display_name, now, actor))
        return req

    def deny(self, platform: str, user_id: str, actor: str) -> PairingRequest:
        req = self._open_request(platform, user_id)
        with self.db.transaction() as conn:
            # Denied for an hour from now: until then their messages get no reply at all.
            now = self.now()
            conn.execute("UPDATE pairing_requests SET status = 'denied', decided_at = ?,"
                         " decided_by = ?, expires_at = ? WHERE id = ?",
                         (now, actor, now + TTL_SECONDS, req.id))
        return req


def _request(row: Any) -> PairingRequest:
    return PairingRequest(row["id"], row["platform"], row["user_id"], row["chat_id"],
                          row["display_name"], row["created_at"], row["expires_at"],
                          row["failed_attempts"], row["status"])
