"""What `assistant-cli state info` and `doctor` read about the state database, on either
backend: row counts, size, the replicas seen recently and the claims they left behind.

Replicas are known from the inbox's lease columns (store/pg_inbox.py): a replica that
claimed a message in the last ten minutes shows with the time of its last heartbeat. Times
come from the database's clock on PostgreSQL, as the heartbeats do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from assistant_cli.store.db import Database
from assistant_cli.store.migrations import MIGRATIONS
from assistant_cli.store.pg_schema import tables

RECENT = 600.0  # seconds: a replica seen within this is listed


@dataclass(frozen=True)
class ReplicaSeen:
    """One replica, as its claims show it."""

    name: str
    last_seen: float  # Unix time of its newest heartbeat
    age: float  # seconds since then
    claimed: int  # messages it holds now


@dataclass(frozen=True)
class StaleClaims:
    """Claimed-but-unfinished messages of one replica whose lease ran out."""

    replica: str
    count: int
    oldest_age: float  # seconds since the oldest of them was heart-beaten


@dataclass
class StateInfo:
    backend: str
    where: str  # the file, or the URL with its password masked
    schema_version: int
    latest_schema: int
    size_bytes: int | None
    counts: dict[str, int] = field(default_factory=dict)
    replicas: list[ReplicaSeen] = field(default_factory=list)


def db_now(db: Database) -> float:
    """Now, by the clock that stamps heartbeats (the server's on PostgreSQL)."""
    if db.backend != "postgresql":
        return time.time()
    return float(db.execute("SELECT extract(epoch from clock_timestamp())").fetchone()[0])


def row_counts(db: Database) -> dict[str, int]:
    return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables()}


def size_bytes(db: Database) -> int | None:
    if db.backend == "postgresql":
        return int(db.execute("SELECT pg_database_size(current_database())").fetchone()[0])
    files = [db.path, db.path.with_name(db.path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) if db.path.exists() else None


def replicas_seen(db: Database, recent: float = RECENT) -> list[ReplicaSeen]:
    now = db_now(db)
    rows = db.execute(
        "SELECT claimed_by, MAX(heartbeat_at),"
        " SUM(CASE WHEN status = 'claimed' THEN 1 ELSE 0 END) FROM inbox"
        " WHERE claimed_by IS NOT NULL AND heartbeat_at >= ? GROUP BY claimed_by"
        " ORDER BY claimed_by", (now - recent,)).fetchall()
    return [ReplicaSeen(str(r[0]), float(r[1]), max(0.0, now - float(r[1])), int(r[2]))
            for r in rows]


def stale_claims(db: Database, lease: float) -> list[StaleClaims]:
    """Per replica, claimed messages not heart-beaten within `lease` (the next claim on any
    replica queues them again; many of them mean a replica died or stalls)."""
    now = db_now(db)
    rows = db.execute(
        "SELECT COALESCE(claimed_by, '?'), COUNT(*), MIN(COALESCE(heartbeat_at, claimed_at))"
        " FROM inbox WHERE status = 'claimed' AND COALESCE(heartbeat_at, claimed_at) < ?"
        " GROUP BY COALESCE(claimed_by, '?') ORDER BY 1", (now - lease,)).fetchall()
    return [StaleClaims(str(r[0]), int(r[1]), max(0.0, now - float(r[2]))) for r in rows]


def state_info(db: Database) -> StateInfo:
    return StateInfo(backend=db.backend, where=db.label, schema_version=db.schema_version,
                     latest_schema=len(MIGRATIONS), size_bytes=size_bytes(db),
                     counts=row_counts(db), replicas=replicas_seen(db))
