"""Copying a SQLite state into PostgreSQL (`assistant-cli state migrate`).

Every table, parents first, in batches: each batch goes into a temporary table with COPY
and from there into its table with `INSERT ... ON CONFLICT (key) DO UPDATE`, so a re-run
(after an interruption, or to catch up) updates rows instead of doubling them, and row ids
stay what they were (the audit chain's MACs, history and tool calls refer to them). The
identity sequences are moved past the copied ids. Messages left claimed by a stopped
SQLite `serve` are queued again (they carry no lease a replica could expire).

A target is refused when it holds data that did not come from this state: a copy carries
the source's `state_id` (kv), and an audit chain in the target must be the start of the
source's. After the copy, row counts and the audit chain are compared with the source.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from assistant_cli.errors import StateError
from assistant_cli.store.db import Database
from assistant_cli.store.pg_db import PgDatabase
from assistant_cli.store.pg_schema import tables

BATCH = 5000
STATE_ID = "state_id"  # kv key naming a state's lineage, carried by its copies

# The key of every table (what a re-run's upsert matches on).
KEYS: dict[str, tuple[str, ...]] = {
    "inbox": ("id",), "replies": ("inbox_id",), "history": ("id",), "secrets_meta": ("name",),
    "kv": ("key",), "pairing_requests": ("id",), "senders": ("platform", "user_id"),
    "audit": ("id",), "delivery_status": ("platform", "message_id", "status"),
    "usage_daily": ("day", "provider", "sender"), "provider_health": ("provider",),
    "tool_calls": ("id",), "tool_approvals": ("id",), "tool_memory": ("id",),
}

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in table)


@dataclass
class CopyReport:
    counts: dict[str, int] = field(default_factory=dict)  # rows per table in the source
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)  # (source, target)
    audit_entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatched


def state_id(source: Database) -> str:
    """The source's lineage id, created on its first copy."""
    row = source.execute("SELECT value FROM kv WHERE key = ?", (STATE_ID,)).fetchone()
    if row is not None:
        return str(row[0])
    value = secrets.token_hex(16)
    with source.transaction() as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                     (STATE_ID, value))
    return str(source.execute("SELECT value FROM kv WHERE key = ?", (STATE_ID,)).fetchone()[0])


def check_target(source: Database, target: PgDatabase, lineage: str) -> None:
    """Refuse a target holding data that is not an earlier copy of this source."""
    filled = {t: n for t, n in _counts(target).items() if n}
    if not filled:
        return
    row = target.execute("SELECT value FROM kv WHERE key = ?", (STATE_ID,)).fetchone()
    where = target.label
    if row is None or row[0] != lineage:
        shown = ", ".join(f"{t} {n}" for t, n in sorted(filled.items())[:4])
        raise StateError(f"{where} already holds other data ({shown} rows), not a copy of "
                         "this state; refusing to mix the two",
                         hint="copy into an empty database (CREATE DATABASE ...), or drop the "
                              "tables of this one if its data is not needed")
    src = {int(r[0]): r[1] for r in source.execute("SELECT id, mac FROM audit")}
    for r in target.execute("SELECT id, mac FROM audit"):
        if src.get(int(r[0])) != r[1]:
            raise StateError(f"{where} is an earlier copy of this state, but its audit log "
                             f"went its own way since (entry {r[0]} differs); refusing to mix",
                             hint="keep using the PostgreSQL state (it has moved on), or copy "
                                  "into an empty database")


def copy_state(source: Database, target: PgDatabase, progress: Progress | None = None,
               batch: int = BATCH) -> CopyReport:
    """Copy every table of `source` into `target`; counts compared after."""
    lineage = state_id(source)
    check_target(source, target, lineage)
    report = CopyReport(counts=_counts(source))
    for table in tables():
        done = 0
        total = report.counts[table]
        if progress:
            progress(table, 0, total)
        for columns, rows in _batches(source, table, batch):
            _upsert(target, table, columns, rows)
            done += len(rows)
            if progress:
                progress(table, done, total)
        _move_sequence(target, table)
    _requeue_unleased(target)
    after = _counts(target)
    report.mismatched = {t: (n, after[t]) for t, n in report.counts.items() if after[t] != n}
    report.audit_entries = report.counts["audit"]
    return report


def _counts(db: Database) -> dict[str, int]:
    return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables()}


def _batches(source: Database, table: str, size: int) -> Iterator[tuple[list[str], list[Any]]]:
    """The SQLite source's rows in key order, `size` at a time."""
    order = ", ".join(KEYS[table])
    cur = source.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
    columns = [d[0] for d in cur.description]
    while True:
        rows = cur.fetchmany(size)
        if not rows:
            return
        yield columns, [tuple(r) for r in rows]


def _upsert(target: PgDatabase, table: str, columns: list[str], rows: list[Any]) -> None:
    cols = ", ".join(columns)
    keys = KEYS[table]
    rest = [c for c in columns if c not in keys]
    update = (f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in rest)}" if rest
              else "DO NOTHING")
    with target.pool.connection() as conn, conn.transaction():
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS copy_{table} "  # type: ignore[call-overload]
                     f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        with conn.cursor().copy(  # type: ignore[call-overload]
                f"COPY copy_{table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM copy_{table}"  # type: ignore[call-overload]
                     f" ON CONFLICT ({', '.join(keys)}) {update}")


def _requeue_unleased(target: PgDatabase) -> None:
    """Messages a stopped SQLite `serve` left claimed are queued again (as its next start
    would have done): on PostgreSQL only a lease, which they lack, could expire them."""
    with target.transaction() as conn:
        conn.execute("UPDATE inbox SET status = 'queued'"
                     " WHERE status = 'claimed' AND claimed_by IS NULL")


def _move_sequence(target: PgDatabase, table: str) -> None:
    """Let new rows of an id-keyed table start after the copied ids."""
    if KEYS[table] != ("id",):
        return
    with target.pool.connection() as conn:
        conn.execute(  # type: ignore[call-overload]
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" GREATEST((SELECT MAX(id) FROM {table}), 1),"
            f" (SELECT MAX(id) FROM {table}) IS NOT NULL)")
