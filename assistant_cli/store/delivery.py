"""Delivery statuses (sent, delivered, read, failed) that platforms report for our messages."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database


@dataclass(frozen=True)
class DeliveryStatus:
    """One status a platform reported for one of our messages."""

    platform: str
    message_id: str
    status: str  # sent, delivered, read, failed (or whatever else the platform says)
    recipient_id: str
    status_at: float  # the platform's timestamp
    error_code: int | None = None
    error_title: str | None = None


class DeliveryLog:
    """The `delivery_status` table; a redelivered status is stored once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, status: DeliveryStatus) -> bool:
        """Store a status; False when the same status of the same message was already stored."""
        return bool(await self.record_many([status]))

    async def record_many(self, statuses: Sequence[DeliveryStatus]) -> list[DeliveryStatus]:
        """Store statuses in one transaction (off the event loop); returns those not stored
        before.

        Not fsynced (`durable=False`): a status is bookkeeping that survives a crash, and
        every answer brings two or three of them.
        """
        return await self.db.write(lambda conn: _insert(conn, statuses), durable=False)

    def for_message(self, platform: str, message_id: str) -> list[DeliveryStatus]:
        """Every status of one message, in the order the platform stamped them."""
        rows = self.db.execute(
            "SELECT * FROM delivery_status WHERE platform = ? AND message_id = ?"
            " ORDER BY status_at, recorded_at, rowid", (platform, message_id)).fetchall()
        return [_status(r) for r in rows]

    def failures(self, platform: str, since: float = 0.0) -> list[DeliveryStatus]:
        """Failed deliveries recorded since `since` (a Unix time), newest first."""
        rows = self.db.execute(
            "SELECT * FROM delivery_status WHERE platform = ? AND status = 'failed'"
            " AND recorded_at >= ? ORDER BY recorded_at DESC", (platform, since)).fetchall()
        return [_status(r) for r in rows]


def _insert(conn: Conn, statuses: Sequence[DeliveryStatus]) -> list[DeliveryStatus]:
    new: list[DeliveryStatus] = []
    now = time.time()
    for status in statuses:
        cur = conn.execute(
            "INSERT INTO delivery_status (platform, message_id, status,"
            " recipient_id, status_at, error_code, error_title, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (status.platform, status.message_id, status.status, status.recipient_id,
             status.status_at, status.error_code, status.error_title, now),
        )
        if cur.rowcount:
            new.append(status)
    return new


def _status(r: Any) -> DeliveryStatus:
    return DeliveryStatus(
        platform=r["platform"], message_id=r["message_id"], status=r["status"],
        recipient_id=r["recipient_id"], status_at=r["status_at"],
        error_code=r["error_code"], error_title=r["error_title"],
    )
