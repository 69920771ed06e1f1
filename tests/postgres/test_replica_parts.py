"""The replica parts on a real PostgreSQL server: a heartbeat renews only rows still worked
on, a lost server becomes DatabaseUnavailable (and recovers), events cross replicas by
LISTEN/NOTIFY in batches under the payload limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from assistant_cli.app.replicas import open_pool
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.store.pg_events import MAX_PAYLOAD, PgEvents, batches
from assistant_cli.store.pg_inbox import DatabaseUnavailable, PgInbox
from tests.pg_proxy import PgProxy


def msg(ext: str, chat: str = "c1") -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=ext, chat_id=chat, sender_id="u1",
                          text=f"text {ext}")


async def test_a_row_let_go_is_not_kept_alive_by_the_heartbeat(pg_url: str) -> None:
    pool = await open_pool(pg_url, None, 4, "r1")
    try:
        mine = PgInbox(pool, replica="r1", lease=0.5)
        other = PgInbox(pool, replica="r2", lease=0.5)
        await mine.add_many([msg("1", "a"), msg("2", "b")])
        kept, dropped = await mine.claim(), await mine.claim()
        assert kept is not None and dropped is not None
        mine.held.discard(dropped.id)  # its worker lost the database mid-turn
        for _ in range(4):
            await asyncio.sleep(0.25)
            assert await mine.heartbeat() == 1  # only the row still worked on
        taken = await other.claim()
        assert taken is not None and taken.id == dropped.id  # after its lease, elsewhere
        assert await other.claim() is None  # the kept one stays with r1
        await mine.finish(kept.id, "answered")
        assert mine.held == set()
    finally:
        await pool.close()


async def test_a_lost_server_is_database_unavailable_until_it_returns(
    pg_url: str, proxy: PgProxy
) -> None:
    url = proxy.url(urlsplit(pg_url).path.lstrip("/"))
    pool = await open_pool(url, None, 2, "r1")
    inbox = PgInbox(pool, replica="r1", name="postgresql://postgres@127.0.0.1/db")
    try:
        assert await inbox.add(msg("1")) is not None
        proxy.cut()
        with pytest.raises(DatabaseUnavailable) as lost:
            await inbox.add(msg("2"))
        assert "postgresql://postgres@127.0.0.1/db is unavailable" in str(lost.value)
        assert (inbox.storage_problem() or "").startswith("database unavailable")
        with pytest.raises(DatabaseUnavailable):
            await inbox.claim()
        proxy.restore()
        for _ in range(40):
            try:
                assert await inbox.add(msg("2")) is not None
                break
            except DatabaseUnavailable:
                await asyncio.sleep(0.25)
        assert inbox.storage_problem() is None
        assert (await inbox.counts()).queued == 2
    finally:
        await pool.close()


def test_event_batches_stay_under_the_payload_limit() -> None:
    items = [json.dumps({"i": i, "pad": "x" * 300}) for i in range(100)]
    out = batches(items)
    assert len(out) > 1 and all(len(b.encode()) <= MAX_PAYLOAD for b in out)
    assert [e["i"] for b in out for e in json.loads(b)] == list(range(100))
    assert batches(["\"" + "y" * MAX_PAYLOAD + "\""]) == []  # too big alone: dropped


async def test_events_cross_replicas_by_listen_notify(pg_url: str) -> None:
    pool_a = await open_pool(pg_url, None, 2, "a")
    pool_b = await open_pool(pg_url, None, 2, "b")
    got: list[dict[str, Any]] = []
    a, b = PgEvents(pool_a, pg_url, flush_every=0.05), PgEvents(pool_b, pg_url)
    tasks = [asyncio.create_task(a.send_loop()), asyncio.create_task(b.listen_loop(got.append))]
    try:
        await asyncio.sleep(0.5)  # b listens
        for i in range(300):
            a.publish({"r": "a", "e": "message.in", "d": {"id": i, "pad": "z" * 100}})
        for _ in range(100):
            if len(got) == 300:
                break
            await asyncio.sleep(0.05)
        assert [e["d"]["id"] for e in got] == list(range(300))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool_a.close()
        await pool_b.close()


async def test_a_row_stored_on_one_replica_wakes_the_others_at_once(pg_url: str) -> None:
    pool_a = await open_pool(pg_url, None, 2, "a")
    pool_b = await open_pool(pg_url, None, 2, "b")
    a, b = PgInbox(pool_a, replica="a"), PgInbox(pool_b, replica="b")
    woken = asyncio.Event()

    def new_rows() -> None:
        b.hint()
        woken.set()

    listener = asyncio.create_task(PgEvents(pool_b, pg_url).listen_loop(
        lambda _: None, on_inbox=new_rows))
    try:
        await asyncio.wait_for(woken.wait(), 5)  # once when it starts listening
        assert await b.claim() is None  # nothing yet: b's next claims skip the database
        woken.clear()
        await a.add(msg("1"))
        await asyncio.wait_for(woken.wait(), 2)  # NOTIFY with a's commit
        item = await b.claim()  # asked the database, though its last claim found nothing
        assert item is not None and item.message.external_id == "1"
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await pool_a.close()
        await pool_b.close()
