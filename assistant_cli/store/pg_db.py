"""The state on PostgreSQL: the `Database` interface over psycopg 3 and its connection pool.

The stores are written once, with SQLite's `?` placeholders; `PgConn` translates each
statement once (store/pg_sql.py) and hands back cursors whose rows are indexed by name and
by position, like sqlite3.Row. `transaction()` takes a pooled connection for one
transaction (`durable=False` commits without waiting for the WAL flush, as SQLite's
synchronous=NORMAL); `write()` runs its job in a worker thread on a connection of its own,
so the event loop never waits for the server. A lost connection counts as a storage
failure: `storage_problem()` says why (and /readyz is not ready) until the server answers
again. The schema comes from the SQLite migrations (store/pg_schema.py).

psycopg is imported inside functions: it is the optional `postgres` extra.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant_cli.store.conn import Conn, Cursor
from assistant_cli.store.db import Database
from assistant_cli.store.health import StorageHealth
from assistant_cli.store.pg_schema import lock_key
from assistant_cli.store.pg_sql import PgConn, is_pg_storage_error, mask_url, plain_url
from assistant_cli.store.pg_sql import query as pg_query

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

T = TypeVar("T")

CONNECT_TIMEOUT = 5  # seconds per connection attempt
PROBE_TIMEOUT = 2.0  # seconds storage_problem() waits for a connection while down


class PgDatabase(Database):
    """A PostgreSQL database holding the state, migrated to the latest schema on open.

    A `Database` (the stores, engine and gateway take one), but with a pool instead of the
    SQLite connection; `path` names local files that belong to this database (the audit
    anchor), never a database file.
    """

    def __init__(self, url: str, *, password: str | None = None, pool_size: int = 10,
                 state_dir: Path | None = None, migrate: bool = True) -> None:
        """`migrate=False` opens the database as it is (doctor examines, never changes)."""
        from assistant_cli.store.pg_open import connect_pool

        self.url = url
        self.health = StorageHealth()
        self._probed_at = 0.0
        self._probing = threading.Lock()
        digest = hashlib.sha256(plain_url(url).encode()).hexdigest()[:16]
        self.path = (state_dir or Path(".")) / f"postgres-{digest}"
        self._kwargs: dict[str, Any] = {"password": password} if password else {}
        self.pool: ConnectionPool[Any] = connect_pool(url, self._kwargs, pool_size)
        try:
            if migrate:
                self.migrate()
        except BaseException:
            self.pool.close()
            raise

    @property
    def label(self) -> str:
        return mask_url(self.url)

    @property
    def backend(self) -> str:
        return "postgresql"

    @property
    def anchor_file(self) -> Path:
        return self.path.with_name(f"audit.{self.path.name}.head")

    @property
    def anchor_key(self) -> str:
        return "postgresql:" + plain_url(self.url)

    @property
    def schema_version(self) -> int:
        """Migrations applied (0 for a database no assistant-cli has set up yet)."""
        from assistant_cli.store.pg_open import current_version

        with self.pool.connection() as conn:
            return current_version(conn)

    def migrate(self) -> None:
        from assistant_cli.store.pg_open import migrate

        migrate(self.pool, self.url)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Conn]:
        """A transaction on a pooled connection: committed on success, rolled back on any
        exception. `durable=False` does not wait for the commit's WAL flush."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                if not durable:
                    conn.execute("SET LOCAL synchronous_commit = off")
                yield PgConn(conn)
        except BaseException as exc:
            if is_pg_storage_error(exc):
                self.health.failed(exc)
            raise
        self.health.succeeded()

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> Cursor:
        """One statement in its own transaction; the result is read in full."""
        try:
            with self.pool.connection() as conn:
                return pg_query(conn, sql, params)
        except Exception as exc:
            if is_pg_storage_error(exc):
                self.health.failed(exc)
            raise

    def serialize(self, conn: Conn, name: str) -> None:
        """An advisory lock on `name` until the transaction ends (see Database)."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))

    async def write(self, job: Callable[[Conn], T], *, durable: bool = True) -> T:
        """Run `job(conn)` in a transaction in a worker thread; returns once committed."""
        return await asyncio.to_thread(self._run, job, durable)

    def _run(self, job: Callable[[Conn], T], durable: bool) -> T:
        with self.transaction(durable=durable) as conn:
            return job(conn)

    def storage_problem(self) -> str | None:
        """Why the database cannot be used now, or None. Every few seconds a test query in
        a thread of its own notices a server that went away (or came back) even when
        nothing is written; this call never waits for the server."""
        now = time.monotonic()
        if now - self._probed_at >= self.health.probe_every and not self._probing.locked():
            self._probed_at = now
            threading.Thread(target=self._probe, name="state-probe", daemon=True).start()
        return self.health.reason

    def _probe(self) -> None:
        with self._probing:
            try:
                with self.pool.connection(timeout=PROBE_TIMEOUT) as conn:
                    conn.execute("SELECT 1")
            except Exception as exc:
                if self.health.reason is None or is_pg_storage_error(exc):
                    self.health.failed(exc)
            else:
                self.health.succeeded()

    @property
    def writer(self) -> None:
        return None  # no group-commit thread: the server commits concurrent writers

    def close(self) -> None:
        self.pool.close()
