"""PostgreSQL state for several `serve` replicas: connection pool, schema, URL masking.

The optional `postgres` extra (psycopg 3 and psycopg_pool) is imported only here and in the
modules that use it, so the SQLite default never loads it. The schema is the one
PgDatabase uses (store/pg_db.py), generated from the SQLite migrations by
store/pg_schema.py, lease columns (`claimed_by`, `heartbeat_at`) included; it is created
under an advisory lock so that replicas starting together do not race.

psycopg_pool is imported inside functions: it belongs to the optional `postgres` extra,
and importing this module (as the CLI does to mask URLs) must work without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_cli.errors import StateError
from assistant_cli.store.pg_open import DRIVER_HINT, REACH_HINT, DatabaseUnreachable
from assistant_cli.store.pg_schema import (
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    VERSION_TABLE,
    full_schema,
    migration,
    newer_schema_message,
)
from assistant_cli.store.pg_sql import mask_url

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

SCHEMA = full_schema()  # the same tables as PgDatabase's, from store/migrations.py

__all__ = ["SCHEMA", "SCHEMA_LOCK", "SCHEMA_VERSION", "DatabaseUnreachable", "ensure_schema",
           "mask_url", "open_pool"]


async def open_pool(url: str, *, size: int = 10,
                    password: str | None = None) -> AsyncConnectionPool:
    """A connection pool to `url`, with the schema in place; DatabaseUnreachable (exit 2,
    the URL's password masked) if the server cannot be reached or logged into."""
    try:
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise DatabaseUnreachable("a postgresql:// state URL needs the PostgreSQL driver",
                                  hint=DRIVER_HINT) from None
    extra = {"password": password} if password else {}
    pool = AsyncConnectionPool(url, min_size=1, max_size=size, open=False,
                               kwargs={"autocommit": True, **extra})
    try:
        await pool.open(wait=True, timeout=10.0)
        await ensure_schema(pool)
    except StateError:
        await pool.close()
        raise  # a newer schema: said as it is
    except Exception as exc:
        await pool.close()
        raise DatabaseUnreachable(f"cannot use the PostgreSQL database {mask_url(url)}: "
                                  f"{_first_line(exc)}", hint=REACH_HINT) from None
    return pool


async def ensure_schema(pool: AsyncConnectionPool) -> None:
    """Apply the migrations the database lacks (as PgDatabase does, store/pg_open.py), under
    the same advisory lock; refuse a database written by a newer assistant-cli."""
    async with pool.connection() as conn:
        for version in range(1, SCHEMA_VERSION + 1):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                await conn.execute(VERSION_TABLE)
                row = await (await conn.execute("SELECT max(version) FROM schema_version")
                             ).fetchone()
                current = int(row[0] or 0) if row else 0
                if current > SCHEMA_VERSION:
                    raise StateError(newer_schema_message(current),
                                     hint="upgrade assistant-cli")
                if current >= version:
                    continue
                for statement in migration(version):
                    await conn.execute(statement)  # type: ignore[call-overload]  # DDL text
                await conn.execute("DELETE FROM schema_version")
                await conn.execute("INSERT INTO schema_version (version) VALUES (%s)",
                                   (version,))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
