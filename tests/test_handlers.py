"""Handler plugins in the turn: answer, rewrite, pass, on_reply, failures, crash replay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assistant_cli.domain.events import EventBus, HandlerFailed
from assistant_cli.engine.language import SenderLanguages
from assistant_cli.engine.pipeline import HandlerPipeline
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.observability.serve_metrics import ServeMetrics
from assistant_cli.plugin import Answer, Handler, HandlerContext, InboundMessage, Pass, Rewrite
from assistant_cli.plugins.loading import LoadedHandler
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.kv import language_store, plugin_store
from tests.fakes.openai_server import FakeOpenAI
from tests.provider_support import drain
from tests.test_engine import RecordingChannel, config_for, m


class Counter(Handler):
    """Answers /count with how often it was called, kept in its store."""

    name = "counter"

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> Answer | None:
        if message.text != "/count":
            return None
        n = int(ctx.store.get("n", "0") or 0) + 1
        ctx.store.set("n", str(n))
        return Answer(f"count {n} for {ctx.sender} on {ctx.platform}")


class Shout(Handler):
    name = "shout"

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> Rewrite | Pass:
        return Rewrite(message.text.upper()) if message.text.startswith("!") else Pass()

    async def on_reply(self, message: InboundMessage, reply: str, ctx: HandlerContext) -> str:
        return reply + " [checked]"


class Broken(Handler):
    name = "broken"

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> None:
        raise RuntimeError("plugin bug")


class Sloppy(Handler):
    name = "sloppy"

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> str:  # type: ignore[override]
        return "a bare string is not an answer"

    async def on_reply(self, message: InboundMessage, reply: str, ctx: HandlerContext) -> str:
        return None  # type: ignore[return-value]


class Slow(Handler):
    name = "slow"
    timeout = 0.05

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> Answer:
        await asyncio.sleep(5)
        return Answer("too late")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


class Rig:
    def __init__(self, tmp: Path, fake: FakeOpenAI, *handlers: Handler,
                 locale: str = "en") -> None:
        self.db = Database(tmp / "state.db")
        self.events = EventBus()
        self.sub = self.events.subscribe()
        config = config_for(fake.base_url)
        router = ProviderRouter(config, lambda r, w: "sk-test-key", self.events, base_delay=0.01)
        loaded = [LoadedHandler(h.name, f"pkg-{h.name}", h, type(h).timeout) for h in handlers]
        self.pipeline = HandlerPipeline(loaded, lambda n: plugin_store(self.db, n), self.events)
        self.inbox = Inbox(self.db)
        self.runner = TurnRunner(self.inbox, History(self.db), router, config.assistant,
                                 self.events, pipeline=self.pipeline,
                                 languages=SenderLanguages(language_store(self.db), locale))
        self.channel = RecordingChannel()

    async def say(self, text: str, ext: str, language_code: str | None = None) -> str:
        msg = m(ext, text)
        if language_code:
            msg = replace(msg, meta={"language_code": language_code})
        await self.inbox.add(msg)
        item = await self.inbox.claim()
        assert item is not None
        return (await self.runner.run(item, self.channel)).name

    def events_named(self, name: str) -> list[dict[str, object]]:
        return [e.data for e in drain(self.sub) if e.name == name]


async def test_a_handler_answer_skips_the_model_and_its_store_persists(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake, Counter())
    assert await rig.say("/count", "1") == "handled"
    assert await rig.say("/count", "2") == "handled"
    assert rig.channel.sent == [("c1", "count 1 for u on test"), ("c1", "count 2 for u on test")]
    assert fake.requests == []
    assert plugin_store(rig.db, "counter").get("n") == "2"
    assert plugin_store(rig.db, "other").get("n") is None  # namespaced per plugin
    assert await rig.say("hello", "3") == "answered"  # passed on: the model answers
    assert fake.user_messages()[-1] == "hello"


async def test_a_rewrite_reaches_the_model_and_on_reply_changes_the_answer(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake, Shout())
    assert await rig.say("!quiet please", "1") == "answered"
    assert fake.user_messages() == ["!QUIET PLEASE"]
    assert rig.channel.replies == [("c1", "echo: !QUIET PLEASE [checked]")]


async def test_a_raising_or_slow_handler_is_skipped_counted_and_the_message_still_answered(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake, Broken(), Slow(), Counter())
    assert await rig.say("/count", "1") == "handled"  # the third handler still runs
    assert await rig.say("hi", "2") == "answered"
    assert rig.channel.replies == [("c1", "echo: hi")]
    failed = rig.events_named("handler.failed")
    assert [(e["handler"], e["reason"]) for e in failed] == [
        ("broken", "error"), ("slow", "timeout"), ("broken", "error"), ("slow", "timeout")]
    assert "RuntimeError: plugin bug" in str(failed[0]["error"])
    metrics = ServeMetrics(lambda: 0)
    for data in failed:
        metrics.handle(HandlerFailed(handler=str(data["handler"]), reason=str(data["reason"]),
                                     error=str(data["error"])))
    assert ('assistant_handler_failures_total{handler="slow",reason="timeout"} 2'
            in metrics.render())


async def test_a_handler_returning_the_wrong_thing_counts_as_failed_and_changes_nothing(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake, Sloppy())
    assert await rig.say("hi", "1") == "answered"
    assert rig.channel.replies == [("c1", "echo: hi")]
    failed = rig.events_named("handler.failed")
    assert [str(e["error"]).split(";")[0] for e in failed] == [
        "returned 'a bare string is not an answer'", "on_reply returned None"]


async def test_a_recorded_handler_answer_is_resent_after_a_crash_not_recomputed(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake, Counter())
    await rig.inbox.add(m("1", "/count"))
    item = await rig.inbox.claim()
    assert item is not None
    await rig.inbox.record_reply(item.id, "count 1 for u on test")  # then the process died
    await rig.inbox.recover()
    again = await rig.inbox.claim()
    assert again is not None and again.reply_text == "count 1 for u on test"
    assert (await rig.runner.run(again, rig.channel)).name == "answered"
    assert rig.channel.sent == [("c1", "count 1 for u on test")]
    assert plugin_store(rig.db, "counter").get("n") is None  # the handler did not run again


async def test_chat_commands_speak_the_senders_language_and_lang_changes_it(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    rig = Rig(tmp_path, fake)
    await rig.say("/help", "1", language_code="zh-hans")
    assert rig.channel.sent[-1][1].startswith("给我发消息，我就会回答。")
    await rig.say("/lang", "2")
    assert rig.channel.sent[-1][1] == ("I write to you in en. I can write in: en, zh_CN. "
                                       "Example: /lang zh_CN")
    await rig.say("/lang klingon", "3")
    assert "I don't know the language 'klingon'" in rig.channel.sent[-1][1]
    await rig.say("/lang zh-CN", "4", language_code="en")
    assert rig.channel.sent[-1][1] == "从现在起，我用 zh_CN 和你交流。"
    await rig.say("/reset", "5", language_code="en")  # the choice beats the app's language
    assert rig.channel.sent[-1][1] == "好了——我忘掉了这段对话（0 轮问答）。"
    assert fake.requests == []
