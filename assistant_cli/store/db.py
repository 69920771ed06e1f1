"""The SQLite state file: connection settings, versioned migrations, transactions.

One database in WAL mode is the single source of truth shared by `serve` and the short
CLI commands. Writes use `BEGIN IMMEDIATE` so concurrent writers queue on the busy timeout
instead of failing half-way; `synchronous=FULL` makes a committed row survive power loss,
not just a crash, because platforms are acknowledged only after the commit. Bookkeeping
on the hot path (claims, replies, usage) opts out with `durable=False`: it still survives a
process crash (WAL), and power loss can at worst make a message be answered again.
`serve`'s hot path writes through `write()`: a writer thread that commits whatever queued
meanwhile in one transaction (group commit, store/writer.py), so the event loop never
blocks on the disk.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from assistant_cli.errors import StateError
from assistant_cli.paths import ensure_dir
from assistant_cli.store.conn import Conn, Cursor
from assistant_cli.store.health import (
    RECOVER_HINT,
    StorageHealth,
    is_corruption,
    is_storage_error,
)
from assistant_cli.store.migrations import MIGRATIONS
from assistant_cli.store.writer import Writer

T = TypeVar("T")


class Database:
    """A connection to the state file, migrated to the latest schema on open."""

    _writer: Writer | None = None  # the group-commit writer, started by the first write()

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.health = StorageHealth()
        if str(path) != ":memory:":
            ensure_dir(self.path.parent)
            if self.path.is_dir():
                raise StateError(f"{self.path} is a directory, but it should be the state "
                                 "database file",
                                 hint=f"move {self.path} aside, or set ASSISTANT_CLI_HOME to "
                                 "another directory")
        self._busy_timeout_ms = busy_timeout_ms
        try:
            self.conn = self._connect()
            self.migrate()
        except sqlite3.Error as exc:
            if is_corruption(exc):
                raise StateError(f"the state database {self.path} is corrupt: {exc}",
                                 hint=RECOVER_HINT) from None
            raise StateError(
                f"cannot use the state database {self.path}: {exc}",
                hint="check that the directory is writable and the disk not full; "
                "`assistant-cli doctor` checks the file",
            ) from None
        if self.path.exists():
            # Messages and history are private; an existing looser file is tightened.
            with contextlib.suppress(OSError):
                self.path.chmod(0o600)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=self._busy_timeout_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql` (store/pg_db.py)."""
        return "sqlite"

    @property
    def label(self) -> str:
        """How messages name this database: its file, or its URL with the password masked."""
        return str(self.path)

    @property
    def anchor_file(self) -> Path:
        """The audit log's anchor file outside the database (store/audit_anchor.py)."""
        return self.path.with_name("audit.head")

    @property
    def anchor_key(self) -> str:
        """What names this database in the keyring's audit anchor."""
        return str(self.path.resolve())

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every migration newer than the file's user_version, each atomically."""
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StateError(
                f"{self.path} was written by a newer assistant-cli (schema {current})",
                hint="upgrade assistant-cli, or point ASSISTANT_CLI_HOME elsewhere",
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction() as conn:
                # Re-check inside the write lock: another process may have migrated first.
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= version:
                    continue
                for statement in script.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Conn]:
        """A write transaction: committed on success, rolled back on any exception.

        `durable=False` skips the fsync at commit (see the module docstring for when).
        """
        if not durable:
            self.conn.execute("PRAGMA synchronous=NORMAL")
        changes = self.conn.total_changes
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (e.g. on SQLITE_FULL); a second
                # ROLLBACK would then hide the real error behind "no transaction is active".
                if self.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            if is_storage_error(exc):
                self.health.failed(exc)
            raise
        else:
            if self.conn.total_changes != changes:  # only a real write proves writes work
                self.health.succeeded()
        finally:
            if not durable:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("PRAGMA synchronous=FULL")

    def storage_problem(self) -> str | None:
        """Why writes fail now, or None; while down, a test write (every few seconds)
        notices by itself that space has returned."""
        if self.health.probe_due():
            with contextlib.suppress(sqlite3.Error), self.transaction(durable=False) as conn:
                # Allocates pages (then frees them), as a real write would.
                conn.execute("INSERT INTO kv (key, value) VALUES ('storage_probe', "
                             "hex(randomblob(4096)))"
                             " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                conn.execute("DELETE FROM kv WHERE key = 'storage_probe'")
        return self.health.reason

    async def write(self, job: Callable[[Conn], T], *, durable: bool = True) -> T:
        """Run `job(conn)` in a write transaction off the event loop (group commit).

        Returns once the transaction is committed; see store/writer.py. The jobs of one
        process run in order. An in-memory database has no second connection: the job runs
        here, in a transaction of its own.
        """
        if str(self.path) == ":memory:":
            with self.transaction(durable=durable) as conn:
                return job(conn)
        if self._writer is None:
            self._writer = Writer(self._connect, self.path)
        try:
            result = await self._writer.run(job, durable=durable)
        except Exception as exc:
            # The writer's failures count for /readyz like the loop connection's; recovery
            # is noticed by the next write that succeeds, or storage_problem()'s probe.
            if is_storage_error(exc):
                self.health.failed(exc)
            raise
        self.health.succeeded()
        return result

    def serialize(self, conn: Conn, name: str) -> None:
        """Inside a transaction: wait until no other process is inside one that serialised
        on `name` (the audit chain, one platform's pairing requests). A SQLite write
        transaction already excludes every other writer (BEGIN IMMEDIATE)."""

    @property
    def writer(self) -> Writer | None:
        """The group-commit writer, once something has been written through it."""
        return self._writer

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.conn.close()
