"""A full disk: storage failure reported once, /readyz not ready with the reason, recovery
by itself when space returns; a log file that cannot be written does not flood stderr."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.observability.logs import setup_logging, teardown_logging
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from tests.fakes.openai_server import FakeOpenAI
from tests.gateway_harness import live_gateway, wait_until


async def fill(db: Database) -> None:
    """No room for one more page: SQLite then fails writes with SQLITE_FULL, as on a full disk.

    The limit is per connection: it is set on the loop's and on the group-commit writer's."""
    db.execute("VACUUM")  # no free pages left inside the file either
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    await _limit(db, pages)


async def make_room(db: Database) -> None:
    """Space returns, and nothing else: no write that could itself count as the recovery."""
    db.execute("PRAGMA max_page_count=1073741823")
    assert db.writer is not None and db.writer.conn is not None  # started by fill()
    db.writer.conn.execute("PRAGMA max_page_count=1073741823")  # the writer is idle here


async def _limit(db: Database, pages: int) -> None:
    db.execute(f"PRAGMA max_page_count={pages}")
    await db.write(lambda conn: conn.execute(f"PRAGMA max_page_count={pages}"), durable=False)


def message(n: int) -> InboundMessage:
    return InboundMessage(platform="telegram", external_id=f"m{n}", chat_id="1",
                          sender_id="1", text="x" * 5000)


async def test_a_full_disk_names_the_real_error_and_is_reported_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await fill(db)
    caplog.set_level(logging.INFO, logger="assistant_cli")
    for n in range(30):
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await inbox.add(message(n))
    failed = [r for r in caplog.records if getattr(r, "event", "") == "storage.failed"]
    assert len(failed) == 1 and "full" in failed[0].getMessage()
    assert db.health.reason is not None and "full" in db.health.reason
    await make_room(db)
    assert await inbox.add(message(99)) is not None
    assert db.health.reason is None
    recovered = [r for r in caplog.records if getattr(r, "event", "") == "storage.recovered"]
    assert len(recovered) == 1 and "30" in recovered[0].getMessage()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def test_readyz_is_not_ready_with_the_reason_and_recovers_by_itself(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    async with live_gateway(tmp_path, fake, log_level=None) as h, \
            aiohttp.ClientSession() as session:
        h.db.health.probe_every = 0.0  # probe on every readiness check in this test
        await fill(h.db)
        h.channel.feed("x" * 20_000)  # not stored, so not acknowledged: redelivered later
        await wait_until(lambda: h.db.health.reason is not None, what="the storage failure")
        async with session.get(h.base_url + "/readyz") as resp:
            body = await resp.json()
            assert resp.status == 503 and "full" in body["storage"]
        await make_room(h.db)  # space returns; nothing else happens: readiness comes back itself
        async with session.get(h.base_url + "/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["storage"] == "ok"
        h.channel.feed("hello")
        await wait_until(lambda: h.channel.replies, what="the answer after recovery")


def test_a_log_file_on_a_full_disk_is_reported_once_not_per_record(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    log_file = tmp_path / "assistant.log"
    log_file.symlink_to("/dev/full")  # every write fails with ENOSPC
    setup_logging(log_file, level="INFO")
    try:
        log = logging.getLogger("assistant_cli.test")
        for n in range(200):
            log.warning("record %d", n)
    finally:
        teardown_logging()
    err = capfd.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    assert err.count("cannot write the log file") == 1 and "No space left" in err


async def test_workers_survive_a_claim_that_fails_and_answer_once_storage_works(
        tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_gateway(tmp_path, fake, log_level=None) as h:
        real_claim, failures = h.engine.inbox.claim, [0]

        def claim(**kw: object) -> object:
            if failures[0] < 4:  # more failures than workers: each worker meets some
                failures[0] += 1
                raise sqlite3.OperationalError("disk I/O error")
            return real_claim(**kw)  # type: ignore[arg-type]

        monkeypatch.setattr(h.engine.inbox, "claim", claim)
        for _ in range(4):  # four idle workers look now
            h.engine.wake()
        await wait_until(lambda: failures[0] >= 4, what="failed claims")
        h.channel.feed("hello")
        await wait_until(lambda: h.channel.replies, timeout=10, what="an answer")


async def test_a_channel_does_not_repeat_the_storage_failure_as_errors(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.fakes.telegram_server import FakeTelegram
    from tests.test_telegram_channel import CHAT, make_channel, new_token, until

    db = Database(tmp_path / "s.db")
    inbox = Inbox(db)
    await fill(db)
    caplog.set_level(logging.INFO, logger="assistant_cli")

    class InboxSink:
        async def submit(self, msg: InboundMessage) -> bool:
            return await inbox.add(msg) is not None

        async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
            return [row is not None for row in await inbox.add_many(msgs)]

    async with FakeTelegram(token=new_token()) as tg:
        channel = make_channel(tg)
        tg.push_message(CHAT, "x" * 20_000)
        await channel.start(InboxSink())
        try:
            await until(lambda: db.health.failures >= 3)
            await make_room(db)
            await until(lambda: inbox.depth() == 1)  # stored once space returned
        finally:
            await channel.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [getattr(r, "event", "") for r in errors] == ["storage.failed"]
