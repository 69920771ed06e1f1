"""Whether the state database can be written: one report per outage, readiness, recovery.

On a full disk every write fails, and each caller would say so; the owner needs one line
that storage is down and why, one when it works again, and a `/readyz` that is not ready
meanwhile. Failures that are the storage's (full, I/O error, read-only, corrupt) count;
a busy lock or a bad statement does not.

store/pg_sql.py is imported inside functions, and only once psycopg is loaded: the SQLite
default never imports the optional PostgreSQL driver.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from collections.abc import Callable

log = logging.getLogger("assistant_cli.store")

# Primary SQLite result codes that mean "the storage itself cannot take writes".
STORAGE_CODES = {8: "read-only", 10: "I/O error", 11: "corrupt", 13: "full", 14: "cannot open",
                 26: "not a database"}
STORAGE_WORDS = ("disk is full", "disk i/o error", "readonly database", "malformed",
                 "unable to open", "not a database")


CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
RECOVER_HINT = ("stop `serve` and keep a copy (cp state.db state.db.bad); then restore your "
                "backup of state.db, or recover what is readable: `sqlite3 state.db .recover "
                "| sqlite3 recovered.db` and move recovered.db to state.db; or move the file "
                "away to start with empty state")


def is_corruption(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in CORRUPT_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def is_storage_error(exc: BaseException) -> bool:
    """The storage itself failed (SQLite: full, I/O, read-only, corrupt; PostgreSQL: the
    server unreachable or out of resources, see store/pg_sql.py)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        if "psycopg" not in sys.modules:  # never loads the optional driver by itself
            return False
        from assistant_cli.store.pg_sql import is_pg_storage_error

        return is_pg_storage_error(exc)
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in STORAGE_CODES
    text = str(exc).lower()
    return any(word in text for word in STORAGE_WORDS)


def store_failure_level(exc: BaseException) -> int:
    """Log level for a caller whose write failed: the store has already reported a storage
    failure (once per outage), so the caller's own line is only info; anything else is an
    error."""
    return logging.INFO if is_storage_error(exc) else logging.ERROR


class StorageHealth:
    """Failures and recovery of one database; `reason` is None while writes work."""

    report_every = 60.0  # seconds between repeated reports of one outage
    probe_every = 5.0  # seconds between test writes while down (readiness checks)

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reason: str | None = None
        self.failures = 0
        self._reported_at = 0.0
        self._probed_at = 0.0

    def failed(self, exc: BaseException) -> None:
        now = self.clock()
        first = self.reason is None
        self.reason = str(exc) or type(exc).__name__
        self.failures += 1
        if first or now - self._reported_at >= self.report_every:
            self._reported_at = now
            log.error("cannot write the state database: %s (%d failed write(s) so far); "
                      "not ready until it works again, nothing acknowledged is lost",
                      self.reason, self.failures,
                      extra={"event": "storage.failed", "fields": {"failures": self.failures}})

    def succeeded(self) -> None:
        if self.reason is None:
            return
        log.warning("the state database works again after %d failed write(s)", self.failures,
                    extra={"event": "storage.recovered", "fields": {"failures": self.failures}})
        self.reason, self.failures = None, 0

    def probe_due(self) -> bool:
        """True while down and no test write was tried within `probe_every`."""
        if self.reason is None:
            return False
        now = self.clock()
        if now - self._probed_at < self.probe_every:
            return False
        self._probed_at = now
        return True
