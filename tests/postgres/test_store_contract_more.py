"""More of the stores' contract on both backends: tool calls and approvals, memory,
delivery statuses, given-up messages, the inbox through `Database.write()`; and what only
PostgreSQL has: a server going away is a storage problem until it answers again."""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlsplit

import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ToolCall, ToolResult
from assistant_cli.store.db import Database
from assistant_cli.store.delivery import DeliveryLog, DeliveryStatus
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.retry import RetryPolicy
from assistant_cli.store.tool_calls import ApprovalStore, MemoryStore, ToolCallLog
from assistant_cli.store.undelivered import Undelivered
from tests.pg_server import PgServer
from tests.postgres.conftest import OpenDb


def msg(ext: str, chat: str = "c1", platform: str = "telegram") -> InboundMessage:
    return InboundMessage(platform=platform, external_id=ext, chat_id=chat, sender_id="u1",
                          text=f"text {ext} 100% ?")


def test_tool_calls_are_recorded_once_and_resumed(state_db: Database) -> None:
    inbox_id = asyncio.run(Inbox(state_db).add(msg("1")))
    assert inbox_id is not None
    log = ToolCallLog(state_db)
    calls = [ToolCall("c1", "time.now", "{}"), ToolCall("c2", "memory.remember", '{"t":"x"}')]
    log.record_requested(inbox_id, 0, "thinking", calls)
    log.record_requested(inbox_id, 0, "thinking", calls)  # a resumed turn: no duplicates
    log.mark_running(inbox_id, 0, 0)
    log.record_result(inbox_id, 0, 0, ToolResult("c1", "time.now", "12:00"), "done", 3.5)
    recorded = log.for_inbox(inbox_id)
    assert [(r.seq, r.status) for r in recorded] == [(0, "done"), (1, "requested")]
    assert recorded[0].result == ToolResult("c1", "time.now", "12:00", False)
    assert log.runs_of("time.now") == 1 and log.runs_of("memory.remember") == 0


def test_approvals_are_scoped_and_revocable(state_db: Database) -> None:
    store = ApprovalStore(state_db)
    first = store.add("shell.run", "telegram", "u1", "chat1", "chat")
    second = store.add("time.now", "telegram", "u1", "chat1", "always")
    assert second > first > 0
    assert store.allowed("shell.run", "telegram", "u1", "chat1")
    assert not store.allowed("shell.run", "telegram", "u1", "chat2")
    assert store.allowed("time.now", "telegram", "u1", "anywhere")
    assert store.revoke(first) is not None and store.revoke(first) is None
    assert [a.id for a in store.active()] == [second]


def test_memory_recall_ignores_case_and_forget_clears(state_db: Database) -> None:
    memory = MemoryStore(state_db)
    memory.remember("telegram:1", "Likes Tea")
    memory.remember("telegram:1", "birthday in May")
    memory.remember("telegram:2", "other")
    assert memory.recall("telegram:1", "tea") == ["Likes Tea"]
    assert memory.recall("telegram:1") == ["Likes Tea", "birthday in May"]
    assert memory.forget("telegram:1") == 2 and memory.recall("telegram:1") == []


def test_delivery_statuses_are_stored_once_in_order(state_db: Database) -> None:
    log = DeliveryLog(state_db)
    sent = DeliveryStatus("whatsapp", "m1", "sent", "u1", 10.0)
    read = DeliveryStatus("whatsapp", "m1", "read", "u1", 12.0)
    failed = DeliveryStatus("whatsapp", "m2", "failed", "u2", 11.0, 131047, "re-engage")

    async def record() -> tuple[list[DeliveryStatus], list[DeliveryStatus]]:
        return await log.record_many([sent, read, failed]), await log.record_many([sent])

    first, again = asyncio.run(record())
    assert first == [sent, read, failed] and again == []
    assert [s.status for s in log.for_message("whatsapp", "m1")] == ["sent", "read"]
    assert log.failures("whatsapp") == [failed]


def test_given_up_messages_are_listed_requeued_and_noticed(state_db: Database) -> None:
    inbox = Inbox(state_db, policy=RetryPolicy(other_attempts=1))

    async def give_up() -> list[int]:
        ids = [i for i in await inbox.add_many([msg("1"), msg("2", "c2")]) if i is not None]
        for _ in ids:
            item = await inbox.claim()
            assert item is not None
            await inbox.release(item.id, "boom")
        return ids

    ids = asyncio.run(give_up())
    undelivered = Undelivered(state_db)
    assert undelivered.counts().failed == 2
    assert [f.id for f in undelivered.failed()] == ids
    notices = undelivered.pending_notices(["telegram"])
    assert sorted(n.ids for n in notices) == [(ids[0],), (ids[1],)]
    undelivered.mark_noticed([ids[0]])
    assert [n.ids for n in undelivered.pending_notices(["telegram"])] == [(ids[1],)]
    assert undelivered.requeue([ids[1], 99999]) == [ids[1]]
    assert undelivered.counts().failed == 1 and inbox.counts().queued == 1


def test_inbox_through_write_keeps_order_and_dedupes(state_db: Database) -> None:
    inbox = Inbox(state_db)

    async def run() -> None:
        first = await inbox.add_many([msg("1", "a"), msg("2", "a"), msg("3", "b")])
        assert (await inbox.add_many([msg("1", "a")])) == [None]
        one, two = await inbox.claim(), await inbox.claim()
        assert one is not None and two is not None
        assert (one.message.external_id, two.message.external_id) == ("1", "3")
        assert one.message.text == "text 1 100% ?"
        assert await inbox.claim() is None
        await inbox.record_reply(one.id, "answer")
        assert await inbox.recover() == 2
        again = await inbox.claim()
        assert again is not None and again.reply_text == "answer" and again.attempts == 2
        await inbox.finish(again.id, "answered", sent=True, exchange=("a", "q", "r"))
        assert inbox.depth() == 2 and inbox.depth(["whatsapp"]) == 0
        assert first[0] == again.id

    asyncio.run(run())
    assert inbox.counts().done == 1


def test_a_lost_server_is_a_storage_problem_until_it_answers(pg_url: str,
                                                             pg_server: PgServer) -> None:
    """Connections refused and open ones cut (as when the server goes away): readiness
    notices without any write (a probe in a thread), writes fail, and once the server
    answers again the probe notices that too."""
    import psycopg

    from assistant_cli.store.kv import NamespacedKV
    from assistant_cli.store.pg_db import PgDatabase

    name = urlsplit(pg_url).path.lstrip("/")
    db = PgDatabase(pg_url, pool_size=2)
    db.health.probe_every = 0.05
    kv = NamespacedKV(db, "t")

    def admin(sql: str) -> None:
        with psycopg.connect(pg_server.uri, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[call-overload]  # DDL built from a test name

    def settles(down: bool) -> str | None:
        deadline = time.monotonic() + 15
        while (db.storage_problem() is None) == down and time.monotonic() < deadline:
            time.sleep(0.05)
        return db.storage_problem()

    try:
        kv.set("k", "v")
        assert settles(down=False) is None
        admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        assert settles(down=True) is not None  # noticed with no write at all
        with pytest.raises(psycopg.Error):
            kv.set("k", "w")
        admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        assert settles(down=False) is None
        kv.set("k", "x")
        assert kv.get("k") == "x"
    finally:
        admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        db.close()


def test_two_processes_claiming_through_write_never_share_a_row(
        open_state_db: OpenDb) -> None:
    """`Inbox.claim()` on either backend: a row claimed by one process is not claimed by
    another that selected it at the same time."""
    first = Inbox(open_state_db())
    asyncio.run(first.add_many([msg(str(i), chat=f"c{i}") for i in range(120)]))
    claimed: list[list[int]] = [[], []]

    def claimer(n: int) -> None:
        inbox = Inbox(open_state_db())

        async def run() -> None:
            while (item := await inbox.claim()) is not None:
                claimed[n].append(item.id)

        asyncio.run(run())

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = claimed[0] + claimed[1]
    assert len(everything) == 120 and len(set(everything)) == 120


def test_replicas_opening_a_fresh_database_together_migrate_it_once(pg_url: str) -> None:
    """Four processes start at once on an empty database: the advisory lock lets one
    create each version; all of them open it."""
    from assistant_cli.store.migrations import MIGRATIONS
    from assistant_cli.store.pg_db import PgDatabase

    opened: list[PgDatabase] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(PgDatabase(pg_url, pool_size=2))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(opened) == 4
        assert {db.schema_version for db in opened} == {len(MIGRATIONS)}
        rows = opened[0].execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
        assert rows == 1
    finally:
        for db in opened:
            db.close()


async def test_pg_inbox_and_the_sync_stores_share_one_schema(pg_url: str) -> None:
    """Rows PgInbox (serve's replicas) writes are what the CLI's stores and `state info`
    read, on the same tables."""
    from assistant_cli.store.pg import open_pool
    from assistant_cli.store.pg_db import PgDatabase
    from assistant_cli.store.pg_inbox import PgInbox
    from assistant_cli.store.state_info import replicas_seen, stale_claims

    db = PgDatabase(pg_url, pool_size=2)
    pool = await open_pool(pg_url, size=2)
    try:
        inbox = PgInbox(pool, replica="web-1", policy=RetryPolicy(other_attempts=1))
        await inbox.add_many([msg("1"), msg("2", "c2")])
        first = await inbox.claim()
        assert first is not None
        await inbox.release(first.id, "boom")  # given up at once
        held = await inbox.claim()
        assert held is not None
        assert Undelivered(db).counts().failed == 1
        assert [(r.name, r.claimed) for r in replicas_seen(db)] == [("web-1", 1)]
        assert [(s.replica, s.count) for s in stale_claims(db, lease=-1.0)] == [("web-1", 1)]
        assert stale_claims(db, lease=60.0) == []
        assert Inbox(db).counts().claimed == 1
    finally:
        await pool.close()
        db.close()
