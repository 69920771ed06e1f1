"""The SQLite store: migrations, the inbox's delivery guarantees, history."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.errors import StateError
from assistant_cli.store.conn import Conn
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.migrations import MIGRATIONS
from assistant_cli.store.retry import RetryPolicy


def msg(ext: str, chat: str = "c1", text: str = "hi", platform: str = "console") -> InboundMessage:
    return InboundMessage(platform=platform, external_id=ext, chat_id=chat, sender_id="u1",
                          text=text)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "state.db")


def test_new_database_is_migrated_to_latest_in_wal_mode(db: Database) -> None:
    assert db.schema_version == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (db.path.stat().st_mode & 0o777) == 0o600


def test_reopening_does_not_rerun_migrations(tmp_path: Path) -> None:
    Database(tmp_path / "s.db").close()
    again = Database(tmp_path / "s.db")
    assert again.schema_version == len(MIGRATIONS)


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StateError, match="newer assistant-cli"):
        Database(tmp_path / "s.db")


def test_unwritable_state_directory_gives_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError) as caught:
        Database(blocker / "sub" / "state.db")
    # The message names the file in the way, not just the directory that could not be made.
    assert f"{blocker} is a file" in caught.value.message
    assert "ASSISTANT_CLI_HOME" in (caught.value.hint or "")


def test_state_database_path_that_is_a_directory_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(StateError, match="is a directory"):
        Database(tmp_path / "state.db")


async def test_duplicate_platform_message_is_stored_once(db: Database) -> None:
    inbox = Inbox(db)
    assert await inbox.add(msg("1")) is not None
    assert await inbox.add(msg("1")) is None
    assert await inbox.add(msg("1", platform="telegram")) is not None
    assert inbox.depth() == 2


async def test_one_conversation_is_claimed_in_order_and_one_at_a_time(db: Database) -> None:
    inbox = Inbox(db)
    for ext, chat in (("1", "a"), ("2", "a"), ("3", "b")):
        await inbox.add(msg(ext, chat))
    first = await inbox.claim()
    second = await inbox.claim()
    assert first is not None and second is not None
    assert (first.message.external_id, second.message.external_id) == ("1", "3")
    assert await inbox.claim() is None  # "2" waits until "1" is finished
    await inbox.finish(first.id, "answered")
    third = await inbox.claim()
    assert third is not None and third.message.external_id == "2"


async def test_claimed_rows_are_recovered_after_a_crash(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    db.close()  # the process "dies" with the row claimed
    inbox2 = Inbox(Database(tmp_path / "s.db"))
    assert await inbox2.claim() is None
    assert await inbox2.recover() == 1
    again = await inbox2.claim()
    assert again is not None and again.id == item.id and again.attempts == 2


async def test_generated_reply_survives_and_is_reported_on_reclaim(db: Database) -> None:
    inbox = Inbox(db)
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None and item.reply_text is None
    await inbox.record_reply(item.id, "the answer")
    await inbox.recover()
    again = await inbox.claim()
    assert again is not None
    assert again.reply_text == "the answer" and not again.reply_sent


async def test_finish_with_history_is_atomic(db: Database) -> None:
    inbox, history = Inbox(db), History(db)
    await inbox.add(msg("1", text="q"))
    item = await inbox.claim()
    assert item is not None
    await inbox.record_reply(item.id, "a")

    def explode(conn: Conn) -> None:
        history.append_exchange(conn, "console:c1", "q", "a", item.id)
        raise RuntimeError("crash inside the transaction")

    with pytest.raises(RuntimeError):
        await inbox.finish(item.id, "answered", sent=True, also=explode)
    assert history.count("console:c1") == 0
    assert inbox.counts().claimed == 1
    await inbox.finish(item.id, "answered", sent=True,
                 also=lambda c: history.append_exchange(c, "console:c1", "q", "a", item.id))
    assert [t.content for t in history.recent("console:c1", 10)] == ["q", "a"]
    assert inbox.counts().done == 1


async def test_an_error_that_is_no_delivery_failure_is_tried_other_attempts_times(
    db: Database
) -> None:
    inbox = Inbox(db, policy=RetryPolicy(other_attempts=2, initial=0.001, maximum=0.001))
    await inbox.add(msg("1"))
    item = await inbox.claim()
    assert item is not None
    assert (await inbox.release(item.id, "boom")).retry is True
    time.sleep(0.002)
    item = await inbox.claim()
    assert item is not None
    decision = await inbox.release(item.id, "boom")
    assert (decision.retry, decision.reason) == (False, "attempts")
    assert inbox.counts().failed == 1
    assert await inbox.claim() is None


def test_history_recent_returns_the_last_turns_in_order(db: Database) -> None:
    history = History(db)
    with db.transaction() as conn:
        for i in range(5):
            history.append_exchange(conn, "s", f"q{i}", f"a{i}", i)
    turns = history.recent("s", 4)
    assert [t.content for t in turns] == ["q3", "a3", "q4", "a4"]
    assert history.recent("s", 0) == []
    assert history.clear("s") == 10


def test_cli_process_and_serve_can_write_concurrently(tmp_path: Path) -> None:
    a = Database(tmp_path / "s.db")
    b = Database(tmp_path / "s.db")
    with a.transaction() as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES ('x', '1')")
    with b.transaction() as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES ('y', '2')")
    assert a.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 2


def test_non_durable_transaction_restores_full_sync_even_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction(durable=False):
        raise RuntimeError("boom")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with db.transaction(durable=False) as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
