"""Group commit: the one thread that writes the state file for `serve`'s hot path.

Jobs (functions of a connection) queue up while the disk syncs the previous commit; the
thread then runs everything that queued in one transaction, each job in its own savepoint,
and commits once: one fsync for a whole getUpdates batch, for webhook calls that arrived
together, and for the workers' claims and finishes in between. A job's future is resolved
on the event loop only after that commit, so a caller that acknowledges a platform after
`await` still acknowledges only what is on disk. The loop never waits for SQLite.

A batch commits with `synchronous=FULL` when any of its jobs asked for durability, else
with NORMAL (see store/db.py for why bookkeeping may skip the fsync). Such bookkeeping runs
right away on the caller's thread instead, when that cannot block: the writer is idle and
no other process holds the write lock (`Writer._try_inline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from assistant_cli.errors import StateError

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

SWITCH_INTERVAL = 0.0005  # seconds; see _ensure_started
MAX_BATCH = 512  # jobs per transaction: bounds how long one commit keeps the write lock


@dataclass
class _Entry:
    job: Job
    durable: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = field(default=None)


class Writer:
    """A writer thread with its own connection to the state file."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: Path | str) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[list[_Entry] | None] = queue.SimpleQueue()
        # Jobs of the current turn of each event loop, handed to the thread in one piece:
        # one wake-up of the thread per loop turn instead of one per job.
        self._pending: dict[asyncio.AbstractEventLoop, list[_Entry]] = {}
        self._thread = threading.Thread(target=self._main, name=f"state-writer {name}",
                                        daemon=True)
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._busy = threading.Lock()  # held while the connection is in a transaction
        self._busy_ms = 0
        # What the connection is set to now (changed only under _busy): a PRAGMA is a
        # statement of its own, so it is sent only when the next transaction needs another.
        self._settings: tuple[str, int] | None = None
        self.conn: sqlite3.Connection | None = None  # the writer's own, once started
        self.commits = 0  # transactions committed, for tests and benchmarks
        self.jobs = 0

    async def run(self, job: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run `job(conn)` in the next group transaction; returns once that is committed."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise StateError("the state database is closed")
        self._ensure_started()
        if not durable and not self._pending.get(loop) and self._queue.empty():
            done, result = self._try_inline(job)
            if done:
                return result
        future: asyncio.Future[T] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(_Entry(job, durable, loop, future))
        return await future

    def _try_inline(self, job: Callable[[sqlite3.Connection], T]) -> tuple[bool, T]:
        """Run a job that needs no fsync right here, if that cannot block: when the thread
        is idle and no other process holds the write lock. A commit without fsync takes
        microseconds, a round trip through the thread far longer on a busy machine.

        (False, ...) when the job must queue instead; its exception if it ran and failed.
        """
        if not self._busy.acquire(blocking=False):
            return False, cast(T, None)
        conn = self.conn
        assert conn is not None
        try:
            self._set(conn, "NORMAL", 0)
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # another process writes: don't wait here
                return False, cast(T, None)
            try:
                result = job(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self.commits += 1
            self.jobs += 1
            return True, result
        finally:
            self._busy.release()

    def _set(self, conn: sqlite3.Connection, synchronous: str, busy_ms: int) -> None:
        """Set `synchronous` and `busy_timeout` for the next transaction, if they differ."""
        if self._settings == (synchronous, busy_ms):
            return
        self._settings = None  # unknown until both are through
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        self._settings = (synchronous, busy_ms)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        entries = self._pending.pop(loop)
        if self._closed:
            for entry in entries:
                entry.error = StateError("the state database was closed before this write")
            _resolve(entries)
            return
        self._queue.put(entries)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            if not self._started:
                return
            self._started = False
        self._queue.put(None)
        self._thread.join()

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                # The thread needs the GIL for a moment per batch; by default it waits up
                # to 5 ms for a busy event loop to let go, and every caller waits with it.
                sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
                self.conn = self._connect()
                self._busy_ms = int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0])
                self._started = True
                self._thread.start()

    # -- the thread ---------------------------------------------------------------------
    def _main(self) -> None:
        conn = self.conn
        assert conn is not None  # connected by _ensure_started
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = list(first)
                stop = self._drain(batch)
                with self._busy:
                    self._commit(conn, batch)
                _settle(batch)  # after the lock: a caller woken now may run inline
                if stop:
                    return
        finally:
            conn.close()

    def _drain(self, batch: list[_Entry]) -> bool:
        """Add what else is queued (up to MAX_BATCH); True if close() was asked for."""
        while len(batch) < MAX_BATCH:
            try:
                entries = self._queue.get_nowait()
            except queue.Empty:
                return False
            if entries is None:
                return True
            batch += entries
        return False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Entry]) -> None:
        durable = any(entry.durable for entry in batch)
        try:
            self._set(conn, "FULL" if durable else "NORMAL", self._busy_ms)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for entry in batch:
                    _run_one(conn, entry)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self.commits += 1
            self.jobs += len(batch)
        except Exception as exc:  # the commit failed: nothing of this batch is stored
            for entry in batch:
                entry.error, entry.result = exc, None


def _run_one(conn: sqlite3.Connection, entry: _Entry) -> None:
    """One job in a savepoint, so that its failure undoes only its own writes."""
    conn.execute("SAVEPOINT job")
    try:
        entry.result = entry.job(conn)
    except Exception as exc:
        if not conn.in_transaction:  # SQLite rolled back everything (SQLITE_FULL, IOERR):
            raise  # the whole batch fails with the real error, not "no such savepoint"
        conn.execute("ROLLBACK TO job")
        entry.error = exc
    conn.execute("RELEASE job")


def _settle(batch: list[_Entry]) -> None:
    """Resolve the batch's futures: one wake-up of each event loop, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Entry]] = {}
    for entry in batch:
        by_loop.setdefault(entry.loop, []).append(entry)
    for loop, entries in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_resolve, entries)


def _resolve(entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.future.done():  # the caller was cancelled meanwhile
            continue
        if entry.error is not None:
            entry.future.set_exception(entry.error)
        else:
            entry.future.set_result(entry.result)
