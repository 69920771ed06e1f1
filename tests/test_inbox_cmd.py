"""Given-up messages made visible: `inbox failed|retry` (audited), doctor, metrics, schema."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from assistant_cli.domain.events import MessageFailed
from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.observability.serve_metrics import ServeMetrics
from assistant_cli.paths import Paths, resolve
from assistant_cli.store.db import Database
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.migrations import MIGRATIONS
from assistant_cli.store.undelivered import Undelivered
from tests.clirun import cli
from tests.doctor_support import result
from tests.test_output import ISO_UTC, LONG_ID


def give_up(paths: Paths, *chats: str) -> list[int]:
    """One given-up message per chat (the person blocked the bot)."""
    return asyncio.run(_give_up(paths, *chats))


async def _give_up(paths: Paths, *chats: str) -> list[int]:
    db = Database(paths.database)
    inbox = Inbox(db)
    ids = []
    for n, chat in enumerate(chats):
        await inbox.add(InboundMessage(platform="telegram", external_id=f"x{n}",
                                       chat_id=chat, sender_id=chat, text=f"question {n}"))
        item = await inbox.claim()
        assert item is not None
        await inbox.release(item.id, "Forbidden: bot was blocked by the user",
                            DeliveryFailure(True, "blocked"))
        ids.append(item.id)
    db.close()
    return ids


def test_inbox_failed_lists_given_up_messages_as_json_and_as_a_table(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = resolve()
    code, out, err = cli(capsys, "inbox", "failed")
    assert (code, out) == (0, "") and "no given-up messages" in err
    [first] = give_up(paths, "777")
    code, out, _ = cli(capsys, "inbox", "failed", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["waiting_for_retry"] == 0
    assert [(r["id"], r["chat_id"], r["reason"], r["text"]) for r in listed["failed"]] == [
        (first, "777", "permanent", "question 0")]
    assert ISO_UTC.match(listed["failed"][0]["failed_at"])
    code, out, err = cli(capsys, "inbox", "failed")
    [row] = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and row[:3] == [str(first), "telegram", "777"] and "inbox retry" in err
    assert row[5:8] == ["permanent", "1", "none"] and row[-1] == "question 0"


def test_inbox_failed_piped_through_grep_keeps_a_long_chat_id_whole(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_chat = "-100" + LONG_ID
    [first] = give_up(resolve(), long_chat)
    code, out, _ = cli(capsys, "inbox", "failed")
    assert code == 0
    assert [line.split("\t")[:3] for line in out.splitlines() if long_chat in line] == [
        [str(first), "telegram", long_chat]]


def test_inbox_retry_requeues_the_named_messages_and_audits_it(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = resolve()
    first, second = give_up(paths, "1", "2")
    code, out, err = cli(capsys, "inbox", "retry", str(second))
    assert code == 0, err
    assert f"queued 1 message again: {second}" in out
    assert [r.id for r in Undelivered(Database(paths.database)).failed()] == [first]
    code, out, _ = cli(capsys, "audit", "list", "--json")
    entries = json.loads(out)["entries"]
    assert [(e["action"], e["target"], e["detail"]) for e in entries] == [
        ("inbox.retry", str(second), {"ids": [second]})]
    code, out, _ = cli(capsys, "inbox", "retry", "--all")
    assert code == 0 and f"queued 1 message again: {first}" in out


@pytest.mark.parametrize("args", [[], ["5", "--all"], ["999"]])
def test_inbox_retry_without_a_clear_target_is_a_usage_error_that_changes_nothing(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    paths = resolve()
    give_up(paths, "1")
    code, _, err = cli(capsys, "inbox", "retry", *args)
    assert code == 2
    assert "inbox failed" in err and "Traceback" not in err
    assert Undelivered(Database(paths.database)).counts().failed == 1


def test_doctor_warns_about_given_up_messages_and_names_the_commands(
    isolated_home: Path
) -> None:
    paths = resolve()
    Database(paths.database).close()
    assert result("state.undelivered").status == "ok"
    give_up(paths, "1", "2")
    found = result("state.undelivered")
    assert found.status == "warn" and "2 message(s) were given up" in found.found
    assert "assistant-cli inbox failed" in found.fix and "inbox retry --all" in found.fix


def test_metrics_count_given_up_messages_by_reason_and_show_the_failed_total() -> None:
    metrics = ServeMetrics(lambda: 0, failed_count=lambda: 3)
    metrics.handle(MessageFailed(channel="telegram", id=1, reason="expired", error="HTTP 403"))
    text = metrics.render()
    assert 'assistant_messages_given_up_total{channel="telegram",reason="expired"} 1' in text
    assert "assistant_inbox_failed 3" in text
    assert metrics.snapshot()["failed_messages"] == 3


def test_a_version_4_database_is_migrated_with_its_rows_due_at_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=4")
    conn.execute("INSERT INTO inbox (platform, external_id, conversation, chat_id, sender_id,"
                 " received_at) VALUES ('telegram', '1', 'telegram:1', '1', '1', 0)")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.schema_version == len(MIGRATIONS) == 7
    item = asyncio.run(Inbox(db).claim())
    assert item is not None and item.message.external_id == "1"
