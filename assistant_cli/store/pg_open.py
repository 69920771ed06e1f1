"""Opening the PostgreSQL state: a reachable server or a clear error, then the schema.

An unreachable server, a wrong password or a missing driver are the user's to fix, so they
come out as `DatabaseUnreachable` (exit 2) naming the URL with its password masked. The
schema is migrated under an advisory lock (store/pg_schema.py), once per version, whatever
number of replicas start together.

psycopg and psycopg_pool are imported inside functions: they are the optional `postgres`
extra, and a missing one must become a hint, not an ImportError at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant_cli.errors import StateError
from assistant_cli.store.pg_schema import (
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    VERSION_TABLE,
    migration,
    newer_schema_message,
)
from assistant_cli.store.pg_sql import mask_url

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

CONNECT_TIMEOUT = 5  # seconds
WAIT_TIMEOUT = 5.0  # seconds a caller waits for a pooled connection
RECONNECT_TIMEOUT = 8.0  # seconds of failed reconnection before starting afresh
DRIVER_HINT = "pip install 'assistant-cli[postgres]'"
REACH_HINT = ("check that the server runs and the URL, user and password (state.password) "
              "are right; `assistant-cli doctor` checks the database")


class DatabaseUnreachable(StateError):
    """The configured PostgreSQL state cannot be reached or logged into (bad config)."""

    exit_code = 2


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def require_driver() -> None:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise DatabaseUnreachable("a postgresql:// state URL needs the PostgreSQL driver "
                                  "(psycopg), which is not installed",
                                  hint=DRIVER_HINT) from None


def check_reachable(url: str, kwargs: dict[str, Any]) -> None:
    """Connect once, so that a failure says why (the pool only says it timed out)."""
    import psycopg

    require_driver()
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, **kwargs).close()
    except psycopg.Error as exc:
        reason = first_line(exc).replace(url, mask_url(url))
        raise DatabaseUnreachable(f"cannot reach the PostgreSQL state database "
                                  f"{mask_url(url)}: {reason}", hint=REACH_HINT) from None


def connect_pool(url: str, kwargs: dict[str, Any], size: int) -> ConnectionPool[Any]:
    """An open pool of autocommit connections to `url`; DatabaseUnreachable if it is not."""
    require_driver()
    check_reachable(url, kwargs)
    from psycopg_pool import ConnectionPool, PoolTimeout

    # A connection is checked before use (a server restart costs no failed request); a
    # caller waits at most WAIT_TIMEOUT for one (a write then fails: intake answers 503);
    # reconnection gives up after RECONNECT_TIMEOUT and starts afresh on the next demand,
    # so the pool's doubling back-off never keeps it away from a server that is back.
    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=max(size, 2), open=False, name="assistant-state",
        check=ConnectionPool.check_connection, timeout=WAIT_TIMEOUT,
        reconnect_timeout=RECONNECT_TIMEOUT,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, **kwargs})
    try:
        pool.open(wait=True, timeout=2.0 * CONNECT_TIMEOUT)
    except PoolTimeout:
        pool.close()
        raise DatabaseUnreachable(f"cannot open connections to the PostgreSQL state "
                                  f"database {mask_url(url)}", hint=REACH_HINT) from None
    return pool


def migrate(pool: ConnectionPool[Any], url: str) -> None:
    """Apply the migrations this database lacks, each in its own locked transaction."""
    with pool.connection() as conn:
        if current_version(conn) == SCHEMA_VERSION:
            return  # the usual case: no lock taken
        for version in range(1, SCHEMA_VERSION + 1):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                conn.execute(VERSION_TABLE)
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                current = int(row[0] or 0) if row else 0
                if current > SCHEMA_VERSION:
                    raise StateError(f"{mask_url(url)}: {newer_schema_message(current)}",
                                     hint="upgrade assistant-cli on every machine that uses "
                                          "this database")
                if current >= version:
                    continue
                for statement in migration(version):
                    conn.execute(statement)  # type: ignore[call-overload]  # DDL text
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))


def current_version(conn: Any) -> int:
    """The schema version without waiting for the lock (0 for an empty database)."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)
