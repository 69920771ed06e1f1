"""PostgreSQL state for several `serve` replicas: connection pool, schema, URL masking.

The optional `postgres` extra (psycopg 3 and psycopg_pool) is imported only here and in the
modules that use it, so the SQLite default never loads it. The schema mirrors the SQLite
one (store/migrations.py) for the inbox, replies and history, plus the lease columns that
several replicas need (`claimed_by`, `heartbeat_at`); it is created under an advisory lock
so that replicas starting together do not race.

psycopg_pool is imported inside functions: it belongs to the optional `postgres` extra,
and importing this module (as the CLI does to mask URLs) must work without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant_cli.errors import StateError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

SCHEMA_VERSION = 1
SCHEMA_LOCK = 0x61737369  # pg_advisory_xact_lock key while the schema is created

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (
    id BIGSERIAL PRIMARY KEY,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'text',
    text TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL DEFAULT '{}',
    received_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at DOUBLE PRECISION,
    claimed_by TEXT,
    heartbeat_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    outcome TEXT,
    error TEXT,
    not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
    first_failed_at DOUBLE PRECISION,
    notice TEXT,
    UNIQUE (platform, external_id)
);
CREATE INDEX IF NOT EXISTS inbox_status ON inbox (status, conversation, id);
CREATE TABLE IF NOT EXISTS replies (
    inbox_id BIGINT PRIMARY KEY REFERENCES inbox (id),
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS history (
    id BIGSERIAL PRIMARY KEY,
    session TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    inbox_id BIGINT,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS history_session ON history (session, id)
"""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


async def open_pool(url: str, *, size: int = 10) -> AsyncConnectionPool:
    """A connection pool to `url`, with the schema in place; a clear error if unreachable."""
    try:
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise StateError("a postgresql:// state URL needs the PostgreSQL driver",
                         hint="pip install 'assistant-cli[postgres]'") from None
    pool = AsyncConnectionPool(url, min_size=1, max_size=size, open=False,
                               kwargs={"autocommit": True})
    try:
        await pool.open(wait=True, timeout=10.0)
        await ensure_schema(pool)
    except Exception as exc:
        await pool.close()
        raise StateError(f"cannot use the PostgreSQL database {mask_url(url)}: "
                         f"{_first_line(exc)}",
                         hint="check that the server runs and the URL, user and password "
                              "are right; `assistant-cli doctor` checks the database") from None
    return pool


async def ensure_schema(pool: AsyncConnectionPool) -> None:
    """Create the tables once; refuse a database written by a newer assistant-cli."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in SCHEMA.split(";\n"):
            if statement.strip():
                await conn.execute(statement)
        row = await (await conn.execute("SELECT max(version) FROM schema_version")).fetchone()
        current = row[0] if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise StateError(f"the database was written by a newer assistant-cli "
                             f"(schema {current})", hint="upgrade assistant-cli")
        if current < SCHEMA_VERSION:
            await conn.execute("INSERT INTO schema_version (version) VALUES (%s)",
                               (SCHEMA_VERSION,))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
