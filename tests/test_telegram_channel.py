"""The Telegram channel in-process: real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import telegram
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from assistant_cli.channels.base import ChannelContext
from assistant_cli.channels.telegram import TelegramChannel
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import TelegramConfig
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.core import Engine
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.errors import AlreadyRunning, ChannelError
from assistant_cli.paths import resolve
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram
from tests.inbox_sink import InboxSink

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT = 4242
GROUP = -1001234
SECRET = "s3cret_webhook-token"


def new_token() -> str:
    # A token of our own, so the machine-wide poller lock never collides with other runs.
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=new_token(), allow_insecure_webhook=True) as fake:
        yield fake


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


class Sink:
    """Records submitted messages; can fail a number of times first, dedupes like the inbox."""

    def __init__(self, tg: FakeTelegram, fail: int = 0) -> None:
        self.tg = tg
        self.fail = fail
        self.messages: list[InboundMessage] = []
        self.attempts: list[tuple[str, int]] = []  # (external_id, fake's confirmed offset)

    async def submit(self, msg: InboundMessage) -> bool:
        return (await self.submit_many([msg]))[0]

    async def submit_many(self, msgs: Sequence[InboundMessage]) -> list[bool]:
        self.attempts += [(msg.external_id, self.tg.confirmed_offset) for msg in msgs]
        if self.fail > 0:  # the whole batch fails, as one transaction would
            self.fail -= 1
            raise OSError("disk I/O error")
        stored = []
        for msg in msgs:
            stored.append(all(m.external_id != msg.external_id for m in self.messages))
            if stored[-1]:
                self.messages.append(msg)
        return stored


def make_channel(tg: FakeTelegram, token: str | None = None, web_app: web.Application | None = None,
                 **settings: Any) -> TelegramChannel:
    config = TelegramConfig(api_token="env:TG_TOKEN", base_url=tg.base_url, poll_timeout=1,
                            dm_policy="open", **settings)

    def secret(ref: str, key: str) -> str:
        return (token or tg.token) if key.endswith("api_token") else SECRET

    ctx = ChannelContext(resolve_secret=secret, paths=resolve(), events=EventBus(),
                         request_stop=lambda: None, web_app=web_app)
    channel = TelegramChannel(config, ctx)
    channel.backoff_base = 0.05
    channel.interval = 0.2
    channel.typing_after = 0.02
    return channel


async def until(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def engine_for(channel: TelegramChannel, model: FakeOpenAI, tmp_path: Path) -> Engine:
    text = (f"providers:\n  fake: {{base_url: '{model.base_url}', model: fake-model, "
            "api_key: env:K}\n")
    config = validate_document(parse_document(text, "c"), "c")
    events = channel.ctx.events
    router = ProviderRouter(config, lambda r, k: "sk-test-key", events, base_delay=0.01)
    db = Database(tmp_path / "state.db")
    inbox = Inbox(db)
    runner = TurnRunner(inbox, History(db), router, config.assistant, events)
    return Engine(inbox, runner, {"telegram": channel}, events, workers=2, grace=2.0)


# -- receiving ----------------------------------------------------------------------------

async def test_polling_delivers_a_message_and_confirms_it_only_after_storing(
    tg: FakeTelegram,
) -> None:
    channel, sink = make_channel(tg), Sink(tg)
    await channel.start(sink)
    try:
        assert channel.ready
        update_id = tg.push_message(CHAT, "hello", username="alice")
        await until(lambda: sink.messages)
        await until(lambda: tg.confirmed_offset == update_id + 1)
    finally:
        await channel.stop()
    (msg,) = sink.messages
    bot_id = tg.bot_user()["id"]
    assert (msg.platform, msg.external_id, msg.chat_id, msg.sender_id) == (
        "telegram", f"{bot_id}:{update_id}", str(CHAT), str(CHAT))
    assert (msg.text, msg.kind, msg.sender_name, msg.is_group, msg.addressed) == (
        "hello", "text", "Alice @alice", False, True)
    assert msg.meta == {"message_id": 1, "chat_type": "private", "username": "alice"}
    assert sink.attempts[0][1] <= update_id  # not confirmed before it was stored
    assert [c["command"] for c in tg.commands()] == ["start", "help", "reset", "status", "lang"]
    assert tg.commands(language_code="zh")[0]["description"] == "开始和助手对话"


async def test_an_update_that_could_not_be_stored_is_fetched_again(tg: FakeTelegram) -> None:
    channel, sink = make_channel(tg), Sink(tg, fail=1)
    update_id = tg.push_message(CHAT, "keep me")
    await channel.start(sink)
    try:
        await until(lambda: sink.messages)
    finally:
        await channel.stop()
    assert [ext for ext, _ in sink.attempts] == [sink.messages[0].external_id] * 2
    assert all(offset <= update_id for _, offset in sink.attempts)
    assert tg.pending_updates() == 0


async def test_an_update_that_cannot_be_read_is_skipped_and_polling_goes_on(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "assistant_cli.channels.telegram")
    channel, sink = make_channel(tg), Sink(tg)
    bad = tg.push_update({"message": {"message_id": 1, "text": "no chat", "from": {
        "id": CHAT, "is_bot": False, "first_name": "Ada"}}})
    good = tg.push_message(CHAT, "after it")
    await channel.start(sink)
    try:
        await until(lambda: sink.messages)
        await until(lambda: tg.confirmed_offset == good + 1)
    finally:
        await channel.stop()
    assert [m.text for m in sink.messages] == ["after it"]
    assert f"skipping telegram update {bad} that could not be read" in caplog.text


async def test_a_redelivered_update_is_stored_once_and_still_confirmed(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    inbox = Inbox(Database(tmp_path / "s.db"))
    update = {"message": {"message_id": 7, "date": int(time.time()), "text": "twice",
                          "chat": {"id": CHAT, "type": "private", "first_name": "A"},
                          "from": {"id": CHAT, "is_bot": False, "first_name": "A"}}}
    first = tg.push_update(update)
    tg.push_update({**update, "update_id": first})
    channel = make_channel(tg)
    await channel.start(InboxSink(inbox))
    try:
        await until(lambda: tg.confirmed_offset == first + 1 and tg.pending_updates() == 0)
    finally:
        await channel.stop()
    assert inbox.counts().queued == 1


async def test_a_getupdates_batch_is_stored_in_one_commit_before_it_is_confirmed(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    db = Database(tmp_path / "s.db")
    sink = InboxSink(Inbox(db))
    ids = [tg.push_message(CHAT + i, f"hello {i}") for i in range(5)]
    channel = make_channel(tg)
    await channel.start(sink)
    try:
        await until(lambda: tg.confirmed_offset == ids[-1] + 1)
    finally:
        await channel.stop()
    assert sink.batches == [5]
    assert db.writer is not None and db.writer.commits == 1
    assert sink.inbox.counts().queued == 5


async def test_an_invalid_token_fails_start_naming_the_config_key(tg: FakeTelegram) -> None:
    bad = new_token()
    channel = make_channel(tg, token=bad)
    with pytest.raises(ChannelError) as info:
        await channel.start(Sink(tg))
    text = str(info.value)
    assert "platforms.telegram.api_token" in text and "assistant-cli doctor" in text
    assert bad not in text and bad.split(":")[1] not in text
    # The poller lock was given back.
    again = make_channel(tg, token=bad)
    with pytest.raises(ChannelError):
        await again.start(Sink(tg))


async def test_a_conflict_is_reported_and_polling_recovers(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "assistant_cli.channels.telegram")
    channel, sink = make_channel(tg), Sink(tg)
    events = channel.ctx.events.subscribe()
    tg.fail_next("getUpdates", 409, count=3)
    await channel.start(sink)
    try:
        await until(lambda: events.queue.qsize() >= 3)
        tg.push_message(CHAT, "after the conflict")
        await until(lambda: sink.messages)
        assert channel.ready and channel.last_error is None
    finally:
        await channel.stop()
    errors = [events.queue.get_nowait() for _ in range(events.queue.qsize())]
    assert all(e.name == "channel.error" and "conflict" in e.data["error"].lower()
               for e in errors)
    assert [r for r in caplog.records if getattr(r, "event", "") == "telegram.conflict"]


async def test_after_a_conflict_a_short_poll_shows_recovery_within_seconds(
    tg: FakeTelegram,
) -> None:
    channel, sink = make_channel(tg), Sink(tg)
    channel.config = channel.config.model_copy(update={"poll_timeout": 20})
    tg.fail_next("getUpdates", 409)
    started = time.monotonic()
    await channel.start(sink)
    try:
        await until(lambda: len(tg.calls("getUpdates")) >= 3)  # refused, short, long again
        assert channel.ready and channel.last_error is None
        assert time.monotonic() - started < 5  # not a whole 20 s poll_timeout
    finally:
        await channel.stop()
    assert [c["timeout"] for c in tg.calls("getUpdates")][:3] == [20, 1, 20]


async def test_a_second_poller_with_the_same_token_is_refused(tg: FakeTelegram) -> None:
    first, second = make_channel(tg), make_channel(tg)
    await first.start(Sink(tg))
    try:
        with pytest.raises(AlreadyRunning, match="Telegram bot token is already in use"):
            await second.start(Sink(tg))
    finally:
        await first.stop()
    await second.start(Sink(tg))  # free again once the first one stopped
    await second.stop()


async def test_polling_mode_removes_a_webhook_it_finds(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async with telegram.Bot(tg.token, base_url=tg.base_url) as bot:
        await bot.set_webhook("http://127.0.0.1:8443/hook")
    caplog.set_level(logging.WARNING, "assistant_cli.channels.telegram")
    channel, sink = make_channel(tg), Sink(tg)
    await channel.start(sink)
    try:
        tg.push_message(CHAT, "via polling")
        await until(lambda: sink.messages)
    finally:
        await channel.stop()
    assert tg.webhook() is None
    assert any(getattr(r, "event", "") == "telegram.webhook_removed" for r in caplog.records)


async def test_a_photo_arrives_as_kind_photo_with_its_caption(tg: FakeTelegram) -> None:
    channel, sink = make_channel(tg), Sink(tg)
    await channel.start(sink)
    try:
        tg.push_photo(CHAT, caption="look at this")
        tg.push_update({"message": {"message_id": 99, "date": 0, "new_chat_members": [],
                                    "chat": {"id": GROUP, "type": "supergroup", "title": "g"},
                                    "from": {"id": 5, "is_bot": False, "first_name": "B"}}})
        tg.push_message(CHAT, "done")
        await until(lambda: len(sink.messages) == 2)
    finally:
        await channel.stop()
    assert [(m.kind, m.text) for m in sink.messages] == [("photo", "look at this"),
                                                         ("text", "done")]


async def test_group_messages_are_addressed_only_when_meant_for_the_bot(
    tg: FakeTelegram,
) -> None:
    channel, sink = make_channel(tg), Sink(tg)
    await channel.start(sink)
    kw: dict[str, Any] = {"chat_type": "supergroup", "user_id": 77}
    try:
        tg.push_message(GROUP, "hello everyone", **kw)
        tg.push_message(GROUP, "@test_bot what time is it?", **kw)
        tg.push_message(GROUP, "and tomorrow?", reply_to_bot=True, **kw)
        tg.push_message(GROUP, "/status@test_bot", **kw)
        tg.push_message(GROUP, "/status@other_bot", **kw)
        tg.push_message(GROUP, "ask @test_bot later", **kw)
        await until(lambda: len(sink.messages) == 6)
    finally:
        await channel.stop()
    got = [(m.text, m.addressed, m.is_group) for m in sink.messages]
    assert got == [("hello everyone", False, True), ("what time is it?", True, True),
                   ("and tomorrow?", True, True), ("/status@test_bot", True, True),
                   ("/status@other_bot", False, True), ("ask @test_bot later", True, True)]


# -- replying -----------------------------------------------------------------------------

async def run_engine(channel: TelegramChannel, model: FakeOpenAI, tmp_path: Path,
                     push: Callable[[], object], done: Callable[[], object],
                     timeout: float = 8.0) -> None:
    engine = engine_for(channel, model, tmp_path)
    await engine.start()
    try:
        push()
        await until(done, timeout)
        assert await engine.drain(5)
    finally:
        await engine.stop()


async def test_private_replies_stream_as_drafts_then_one_final_message(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.token_delay = 0.04
    answer = " ".join(f"word{i}" for i in range(30))
    model.reply = lambda messages: answer
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "talk"),
                     lambda: tg.messages_to(CHAT))
    assert tg.messages_to(CHAT) == [answer]
    drafts = tg.drafts_to(CHAT)
    assert len(drafts) >= 2 and all(answer.startswith(d) for d in drafts)
    assert tg.calls("editMessageText") == []
    methods = [c.method for c in tg.sent]
    assert methods[0] == "sendChatAction" and methods[-1] == "sendMessage"
    assert methods.count("sendMessage") == 1


async def test_an_answer_complete_at_once_goes_out_without_a_typing_action_first(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    channel = make_channel(tg)
    channel.typing_after = 1.0  # the fake model answers well within a second
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "quick"),
                     lambda: tg.messages_to(CHAT))
    assert tg.messages_to(CHAT) == ["echo: quick"]
    assert [c.method for c in tg.sent] == ["sendMessage"]


async def test_group_replies_stream_by_editing_a_reply_to_the_question(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.token_delay = 0.04
    answer = "**Sure** — " + " ".join(f"w{i}" for i in range(30))
    model.reply = lambda messages: answer
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path,
                     lambda: tg.push_message(GROUP, "@test_bot go", chat_type="supergroup"),
                     lambda: tg.messages_to(GROUP) and tg.messages_to(GROUP)[0].endswith("w29"))
    (message,) = tg.messages(GROUP)
    assert message["text"] == answer.replace("**", "")
    assert message["entities"][0]["type"] == "bold"
    assert message["reply_to_message"]["text"] == "@test_bot go"
    assert len(tg.calls("sendMessage")) == 1 and len(tg.calls("editMessageText")) >= 2
    assert tg.calls("sendMessageDraft") == []


async def test_without_drafts_private_replies_fall_back_to_editing(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.token_delay = 0.04
    answer = " ".join(f"word{i}" for i in range(30))
    model.reply = lambda messages: answer
    tg.fail_next("sendMessageDraft", 404, "Not Found")
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "talk"),
                     lambda: tg.messages_to(CHAT) == [answer])
    assert not channel.use_drafts
    assert len(tg.calls("editMessageText")) >= 1


async def test_a_long_answer_is_split_into_several_messages(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    parts = [f"Part {i}. " + "some text here " * 30 for i in range(20)]
    answer = "\n\n".join(parts)
    model.reply = lambda messages: answer
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "tell me all"),
                     lambda: len(tg.messages_to(CHAT)) >= 3)
    sent = tg.messages_to(CHAT)
    assert len(sent) == 3 and all(len(t) <= 4096 for t in sent)
    assert all(t.startswith("Part ") for t in sent)  # cut between paragraphs
    assert " ".join(" ".join(sent).split()) == " ".join(answer.split())


async def test_html_telegram_rejects_is_resent_as_plain_text(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    model.reply = lambda messages: "a **bold** claim"
    tg.fail_next("sendMessage", 400, "Bad Request: can't parse entities: unsupported tag")
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "hi"),
                     lambda: tg.messages_to(CHAT))
    assert tg.messages_to(CHAT) == ["a **bold** claim"]
    first, second = tg.calls("sendMessage")
    assert first["parse_mode"] == "HTML" and "parse_mode" not in second


async def test_flood_control_is_waited_out_and_the_message_still_arrives(
    tg: FakeTelegram, model: FakeOpenAI, tmp_path: Path
) -> None:
    tg.fail_next("sendMessage", 429, parameters={"retry_after": 1})
    channel = make_channel(tg)
    await run_engine(channel, model, tmp_path, lambda: tg.push_message(CHAT, "hi"),
                     lambda: tg.messages_to(CHAT), timeout=6)
    assert tg.messages_to(CHAT) == ["echo: hi"]
    refused, delivered = [c for c in tg.sent if c.method == "sendMessage"]
    assert refused.status == 429 and delivered.status == 200
    assert delivered.timestamp - refused.timestamp >= 1.0


async def test_send_renders_and_replies_are_not_sent_after_stop(tg: FakeTelegram) -> None:
    channel = make_channel(tg)
    await channel.start(Sink(tg))
    await channel.send(str(CHAT), "notice with *style* & <symbols>")
    await channel.stop()
    assert tg.messages_to(CHAT) == ["notice with style & <symbols>"]
    with pytest.raises(ChannelError):
        await channel.send(str(CHAT), "too late")


# -- webhook ------------------------------------------------------------------------------

async def test_webhook_stores_only_authentic_well_formed_updates(tg: FakeTelegram) -> None:
    app = web.Application()
    channel, sink = make_channel(tg, web_app=app, mode="webhook",
                                 webhook_url="http://127.0.0.1:8443/webhooks/telegram",
                                 webhook_secret="env:HOOK"), Sink(tg)
    await channel.prepare()
    update = {"update_id": 555, "message": {
        "message_id": 3, "date": int(time.time()), "text": "via webhook",
        "chat": {"id": CHAT, "type": "private", "first_name": "A"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "A"}}}
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with TestClient(TestServer(app)) as client:
        early = await client.post("/webhooks/telegram", data=json.dumps(update), headers=good)
        assert early.status == 503  # not started yet: Telegram will retry
        await channel.start(sink)
        try:
            assert tg.webhook() == {"url": "http://127.0.0.1:8443/webhooks/telegram",
                                    "secret_token": SECRET, "max_connections": 40,
                                    "ip_address": None}
            wrong = {**good, "X-Telegram-Bot-Api-Secret-Token": "nope"}
            missing = {"Content-Type": "application/json"}
            for headers in (wrong, missing):
                resp = await client.post("/webhooks/telegram", data=json.dumps(update),
                                         headers=headers)
                assert resp.status == 401
            for body in (b"{not json", b"[1, 2]", b'{"update_id": "x"}'):
                resp = await client.post("/webhooks/telegram", data=body, headers=good)
                assert resp.status == 400
            huge = b'{"update_id": 1, "pad": "' + b"x" * 1_000_001 + b'"}'
            resp = await client.post("/webhooks/telegram", data=huge, headers=good)
            assert resp.status == 413
            assert sink.messages == []
            resp = await client.post("/webhooks/telegram", data=json.dumps(update), headers=good)
            assert resp.status == 200
            assert [m.text for m in sink.messages] == ["via webhook"]
        finally:
            await channel.stop()
    assert tg.webhook() is not None  # left registered so Telegram keeps queueing


async def test_webhook_calls_arriving_together_share_commits_and_are_all_stored(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    app = web.Application()
    channel = make_channel(tg, web_app=app, mode="webhook",
                           webhook_url="http://127.0.0.1:8443/webhooks/telegram",
                           webhook_secret="env:HOOK")
    db = Database(tmp_path / "s.db")
    sink = InboxSink(Inbox(db))
    await channel.prepare()
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    def update(n: int) -> str:
        return json.dumps({"update_id": 1000 + n, "message": {
            "message_id": n, "date": int(time.time()), "text": f"burst {n}",
            "chat": {"id": CHAT + n, "type": "private", "first_name": "A"},
            "from": {"id": CHAT + n, "is_bot": False, "first_name": "A"}}})

    async with TestClient(TestServer(app)) as client:
        await channel.start(sink)
        try:
            answers = await asyncio.gather(*(
                client.post("/webhooks/telegram", data=update(n), headers=good)
                for n in range(40)))
        finally:
            await channel.stop()
    assert [a.status for a in answers] == [200] * 40
    assert sink.inbox.counts().queued == 40
    assert db.writer is not None and db.writer.jobs == 40
    assert db.writer.commits < 40  # calls that arrived while a commit synced shared the next


async def test_webhook_mode_needs_the_gateway_and_a_secret(tg: FakeTelegram) -> None:
    url = "http://127.0.0.1:8443/webhooks/telegram"
    with pytest.raises(ChannelError, match="gateway"):
        await make_channel(tg, mode="webhook", webhook_url=url,
                           webhook_secret="env:HOOK").prepare()
    with pytest.raises(ChannelError, match=r"platforms\.telegram\.webhook_secret"):
        await make_channel(tg, web_app=web.Application(), mode="webhook",
                           webhook_url=url).prepare()
    with pytest.raises(ChannelError, match="webhook_url"):
        await make_channel(tg, web_app=web.Application(), mode="webhook",
                           webhook_secret="env:HOOK").prepare()
