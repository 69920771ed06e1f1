"""Group commit: the writer thread stores what queued together in one transaction, resolves
callers only after the commit, and keeps the event loop free while SQLite waits."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from tests.state_lock import write_lock


def msg(ext: str, chat: str = "c1") -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=ext, chat_id=chat, sender_id="u1",
                          text=f"m{ext}")


async def test_messages_arriving_together_share_one_commit_and_resolve_after_it(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await inbox.add(msg("warm-up"))  # the writer runs
    assert db.writer is not None
    commits = db.writer.commits
    ticks = 0
    with write_lock(db.path):
        adds = [asyncio.ensure_future(inbox.add(msg(str(i), chat=str(i)))) for i in range(50)]
        for _ in range(10):  # the loop keeps serving while the writer waits for the disk
            await asyncio.sleep(0.01)
            ticks += 1
        assert not any(add.done() for add in adds)  # nothing acknowledged before the commit
    rows = await asyncio.gather(*adds)
    assert ticks == 10
    assert all(row is not None for row in rows)
    # The first add may commit alone (it was taken before the rest queued); the rest share one.
    assert db.writer.commits - commits <= 2
    assert inbox.counts().queued == 51
    db.close()


async def test_a_failing_job_is_undone_alone_and_its_neighbours_are_stored(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)

    def broken(conn: Conn) -> None:
        conn.execute("INSERT INTO inbox (platform, external_id, conversation, chat_id,"
                     " sender_id, kind, text, meta, received_at)"
                     " VALUES ('telegram', 'half', 'x', 'x', 'x', 'text', '', '{}', 0)")
        raise RuntimeError("this job fails half-way")

    with write_lock(db.path):
        results = asyncio.gather(inbox.add(msg("1")), db.write(broken), inbox.add(msg("2")),
                                 return_exceptions=True)
        await asyncio.sleep(0.05)
    first, failed, second = await results
    assert isinstance(first, int) and isinstance(second, int)
    assert isinstance(failed, RuntimeError)
    stored = db.execute("SELECT external_id FROM inbox ORDER BY id").fetchall()
    assert [row[0] for row in stored] == ["1", "2"]
    db.close()


async def test_a_commit_that_fails_acknowledges_nothing_of_its_batch(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db", busy_timeout_ms=100)
    inbox = Inbox(db)
    with write_lock(db.path):  # held past the busy timeout: the transaction cannot start
        results = await asyncio.gather(inbox.add_many([msg("1"), msg("2")]), inbox.add(msg("3")),
                                       return_exceptions=True)
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    assert inbox.counts().queued == 0
    assert await inbox.add(msg("1")) is not None  # the platform redelivers; now it is stored
    db.close()


async def test_durable_batches_fsync_and_bookkeeping_alone_does_not(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await inbox.add(msg("warm-up"))
    assert db.writer is not None and db.writer.conn is not None
    assert db.writer.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    statements: list[str] = []
    db.writer.conn.set_trace_callback(statements.append)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    await inbox.finish(item.id, "answered")
    db.writer.conn.set_trace_callback(None)
    # The setting each COMMIT ran under (a PRAGMA is sent only when it changes); the
    # warm-up, a durable write, left it at FULL.
    mode, at_commit = "FULL", []
    for statement in statements:
        if statement.startswith("PRAGMA synchronous="):
            mode = statement.split("=", 1)[1]
        elif statement == "COMMIT":
            at_commit.append(mode)
    assert at_commit == ["FULL", "NORMAL", "NORMAL"]
    db.close()


async def test_a_batch_reports_each_duplicate_and_stores_the_rest(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    assert await inbox.add_many([msg(str(i)) for i in range(3)]) == [1, 2, 3]
    assert await inbox.add_many([msg("1"), msg("9")]) == [None, 4]
    db.close()


async def test_bookkeeping_runs_at_once_when_idle_and_never_waits_on_the_loop(
    tmp_path: Path,
) -> None:
    db = Database(tmp_path / "s.db")
    await Inbox(db).add(msg("warm-up"))
    threads: list[int] = []

    def note(conn: Conn) -> None:
        threads.append(threading.get_ident())

    await db.write(note, durable=False)  # the writer is idle: no round trip through it
    assert threads == [threading.get_ident()]
    with write_lock(db.path):  # another process writes: queue, don't block the loop
        job = asyncio.ensure_future(db.write(note, durable=False))
        for _ in range(5):
            await asyncio.sleep(0.01)
        assert not job.done()
    await job
    assert threads[1] != threading.get_ident()  # it ran in the writer thread
    db.close()
