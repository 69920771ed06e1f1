"""Token usage per provider and sender per day, estimates, the per-sender daily cap, and
`providers list --usage`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.domain.messages import InboundMessage
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from assistant_cli.paths import resolve
from assistant_cli.providers.base import ChatRequest, Finished, StreamEvent, TextDelta
from assistant_cli.providers.openai import OpenAIProvider
from assistant_cli.store.db import Database
from assistant_cli.store.usage import HealthLog, UsageLedger, utc_day
from tests.clirun import cli
from tests.fakes.openai_server import FakeOpenAI
from tests.provider_support import TurnHarness, config, drain
from tests.state_lock import write_lock


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def test_usage_is_recorded_per_provider_and_sender_from_the_apis_counts(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    h = TurnHarness(tmp_path, config({"main": fake.base_url}))
    await h.say("one two three", sender="alice")
    await h.say("four", sender="bob")
    await h.say("five six", sender="alice")
    by_sender = {r.key: r for r in h.usage.totals("sender")}
    assert set(by_sender) == {"test:alice", "test:bob"}
    assert by_sender["test:alice"].requests == 2 and by_sender["test:alice"].estimated == 0
    (by_provider,) = h.usage.totals("provider")
    assert by_provider.key == "main" and by_provider.requests == 3
    # The fake counts a word a token: "echo: one two three" is four tokens out.
    usage_events = [e.data for e in drain(h.sub) if e.name == "provider.usage"]
    assert usage_events[0]["completion_tokens"] == 4 and not usage_events[0]["estimated"]
    assert by_provider.completion_tokens == sum(e["completion_tokens"] for e in usage_events)
    assert by_provider.prompt_tokens == sum(e["prompt_tokens"] for e in usage_events)
    await h.close()


async def test_usage_is_written_while_the_answer_is_sent_and_a_failure_keeps_the_row_open(
    tmp_path: Path, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write overlaps the final send (not ahead of it), but the row is marked done only
    once usage is on disk: a failed usage write leaves the message to be retried, with its
    reply recorded, so the retry resends instead of asking the model again."""
    h = TurnHarness(tmp_path, config({"main": fake.base_url}))
    order: list[str] = []
    record = h.usage.record

    async def slow_record(*args: Any, **kwargs: Any) -> None:
        order.append("usage started")
        await asyncio.sleep(0.05)
        await record(*args, **kwargs)
        order.append("usage written")

    shown = h.channel.reply

    async def reply(msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        await shown(msg, deltas)  # the whole answer, its record included
        order.append("sent")

    monkeypatch.setattr(h.usage, "record", slow_record)
    monkeypatch.setattr(h.channel, "reply", reply)
    outcome = await h.say("one two")
    assert outcome.name == "answered"
    assert sorted(order) == ["sent", "usage started", "usage written"]
    assert order[-1] == "usage written"  # the send did not wait for it; the turn did
    assert h.usage.totals("sender")[0].requests == 1

    async def broken_record(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(h.usage, "record", broken_record)
    with pytest.raises(OSError, match="disk full"):
        await h.say("three four")
    (status, recorded) = h.db.execute(
        "SELECT i.status, r.text FROM inbox i JOIN replies r ON r.inbox_id = i.id"
        " WHERE i.external_id = '2'").fetchone()
    assert status != "done" and recorded == "echo: three four"
    await h.close()


class NoUsageProvider(OpenAIProvider):
    """A server that never reports usage: the request does not ask for it."""

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body = super().body(request)
        body.pop("stream_options")
        return body


class SilentProvider(OpenAIProvider):
    """An adapter whose Finished carries no usage at all."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        yield TextDelta("twelve chars")
        yield Finished("stop", None)


@pytest.mark.parametrize("cls", [NoUsageProvider, SilentProvider])
async def test_usage_is_estimated_when_the_service_reports_none(
    tmp_path: Path, fake: FakeOpenAI, cls: type[OpenAIProvider]
) -> None:
    h = TurnHarness(tmp_path, config({"main": fake.base_url}))
    h.router._instances["main"] = cls("main", h.router.configs["main"], lambda r, k: "sk-test-key")
    await h.say("a question of some length")
    (row,) = h.usage.totals("provider")
    assert row.estimated == 1 and row.prompt_tokens > 0 and row.completion_tokens > 0
    await h.close()


async def test_a_sender_over_the_daily_cap_gets_a_polite_refusal_and_no_model_call(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    cfg = config({"main": fake.base_url},
                 extra="  daily_token_cap_per_sender: 10\n")
    h = TurnHarness(tmp_path, cfg)
    first = await h.say("this question uses more than ten tokens in and out", sender="alice")
    assert first.name == "answered"
    outcome = await h.say("and another", sender="alice")
    assert outcome.name == "capped"
    assert h.channel.sent == [texts.capped(translator("en"), 10)]
    assert "00:00 UTC" in h.channel.sent[0]
    assert len(fake.requests) == 1
    assert any(e.name == "usage.capped" for e in drain(h.sub))
    # Someone else still gets answers, and so does the owner at the terminal.
    assert (await h.say("hi", sender="bob")).name == "answered"
    assert (await h.say("hi", sender="alice")).name == "capped"
    assert (await h.say("hi", sender="owner", platform="console")).name == "answered"
    await h.close()


async def test_the_cap_resets_on_the_next_utc_day(tmp_path: Path, fake: FakeOpenAI) -> None:
    cfg = config({"main": fake.base_url}, extra="  daily_token_cap_per_sender: 10\n")
    h = TurnHarness(tmp_path, cfg)
    await h.say("this question uses more than ten tokens in and out")
    assert (await h.say("again")).name == "capped"
    h.usage.clock = lambda: time.time() + 86400
    assert (await h.say("tomorrow")).name == "answered"
    await h.close()


def test_providers_list_usage_shows_tokens_per_provider_and_sender(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  main: {base_url: 'http://127.0.0.1:9/v1', model: m}\n"
        "  spare: {base_url: 'http://127.0.0.1:9/v1', model: m}\n"
        "assistant:\n  fallbacks: [spare]\n  daily_token_cap_per_sender: 5000\n")
    ledger = UsageLedger(Database(resolve().database))
    old = UsageLedger(ledger.db, clock=lambda: time.time() - 5 * 86400)

    async def record() -> None:
        await ledger.record("main", "telegram:1", 100, 20)
        await ledger.record("main", "telegram:2", 50, 5, estimated=True)
        await ledger.record("spare", "telegram:1", 7, 3)
        await old.record("main", "telegram:1", 1000, 1000)

    asyncio.run(record())
    ledger.db.close()
    code, out, err = cli(capsys, "providers", "list", "--usage", "--json")
    assert code == 0, err
    data = json.loads(out)
    main = next(p for p in data["providers"] if p["name"] == "main")
    assert main["usage"]["today"] == {"requests": 2, "tokens_in": 150, "tokens_out": 25,
                                      "estimated": 1}
    assert main["usage"]["30d"]["tokens_in"] == 1150
    assert {s["sender"]: s["tokens_in"] for s in data["senders_today"]} == {
        "telegram:1": 107, "telegram:2": 50}
    code, out, _ = cli(capsys, "providers", "list", "--usage")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]  # piped: tab-separated tables
    assert ["main", "2", "~150 / ~25", "~1,150 / ~1,025"] in rows
    assert ["telegram:1", "2", "107", "23"] in rows
    assert utc_day(0) == "1970-01-01"


async def test_provider_health_in_serve_is_written_off_the_loop_and_kept(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    health = HealthLog(db)
    with write_lock(db.path):  # another process writes: serve's loop must not wait for it
        started = time.monotonic()
        health.record("main", False, kind="overload", status=529, detail="busy")
        assert time.monotonic() - started < 0.5
        assert health.latest() == {}  # queued for the writer, not yet stored
    for _ in range(100):
        if health.latest():
            break
        await asyncio.sleep(0.02)
    latest = health.latest()["main"]
    assert (latest.ok, latest.kind, latest.status, latest.detail) == (False, "overload", 529,
                                                                     "busy")
    db.close()
