"""Answering one inbox item: policy, chat commands, the model turn, recording the reply."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from assistant_cli import __version__
from assistant_cli.domain.events import ProviderUsage, TurnFailed, UsageCapped
from assistant_cli.domain.messages import ChatTurn, InboundMessage, InboxItem
from assistant_cli.errors import ProviderError
from assistant_cli.i18n import Translator, available, normalize, translator
from assistant_cli.i18n import messages as texts
from assistant_cli.providers.base import (
    ChatRequest,
    Finished,
    StreamEvent,
    TextDelta,
    Usage,
    estimate_tokens,
)

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.config.models import AssistantConfig
    from assistant_cli.domain.events import EventBus
    from assistant_cli.engine.language import SenderLanguages
    from assistant_cli.engine.pipeline import HandlerPipeline
    from assistant_cli.engine.tool_loop import ToolLoop
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.store.history import History
    from assistant_cli.store.inbox import InboxStore
    from assistant_cli.store.usage import UsageLedger

log = logging.getLogger("assistant_cli.engine")

# The owner at the terminal is never capped: the cap protects against other senders.
UNCAPPED_PLATFORMS = frozenset({"console"})
COMMANDS = ("/start", "/help", "/reset", "/status", "/lang")

# Returns True to let the message reach the model; otherwise it has been dealt with.
PolicyCheck = Callable[[InboundMessage, "Channel"], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    """How an inbox item ended, for logs, metrics and the inbox row."""

    name: str  # answered, handled, command, unsupported, blocked, capped, failed
    latency_ms: float
    overhead_ms: float = 0.0
    reply: str = ""  # the answer's text, for the gateway (shown only if the owner allows)


class TurnRunner:
    """Takes one claimed inbox item to done."""

    def __init__(
        self,
        inbox: InboxStore,
        history: History,
        router: ProviderRouter,
        settings: AssistantConfig,
        events: EventBus,
        policy: PolicyCheck | None = None,
        usage: UsageLedger | None = None,
        pipeline: HandlerPipeline | None = None,
        languages: SenderLanguages | None = None,
        tools: ToolLoop | None = None,
    ) -> None:
        self.inbox = inbox
        self.history = history
        self.router = router
        self.settings = settings
        self.events = events
        self.policy = policy
        self.usage = usage
        self.tools = tools
        self.pipeline = pipeline
        self.languages = languages

    def language(self, msg: InboundMessage) -> str:
        return self.languages.for_message(msg) if self.languages is not None else "en"

    async def run(self, item: InboxItem, channel: Channel) -> Outcome:
        started = time.monotonic()
        msg = item.message
        if item.reply_text is not None:
            # A reply was generated before a crash but not confirmed sent: send it, don't
            # ask the model again.
            if not item.reply_sent:
                await channel.send(msg.chat_id, item.reply_text)
            await self._complete(item, item.reply_text, "answered")
            return Outcome("answered", _ms(started), reply=item.reply_text)
        if self.policy is not None and not await self.policy(msg, channel):
            await self.inbox.finish(item.id, "blocked")
            return Outcome("blocked", _ms(started))
        lang = self.language(msg)
        t = translator(lang)
        if msg.kind != "text" or not msg.text.strip():
            await channel.send(msg.chat_id, texts.unsupported(t))
            await self.inbox.finish(item.id, "unsupported")
            return Outcome("unsupported", _ms(started))
        words = msg.text.strip().split()
        command = words[0].split("@")[0].lower()
        if command in COMMANDS:
            await channel.send(msg.chat_id, self._command(command, words[1:], msg, t))
            await self.inbox.finish(item.id, "command")
            return Outcome("command", _ms(started))
        if self.pipeline is not None and self.pipeline.handlers:
            result = await self.pipeline.run(msg, lang, channel.send)
            if result.answer is not None:
                # Recorded before it is sent, like a model's answer: a crash resends it.
                await self.inbox.record_reply(item.id, result.answer)
                await channel.send(msg.chat_id, result.answer)
                await self._complete(item, result.answer, "handled")
                return Outcome("handled", _ms(started), reply=result.answer)
            item = replace(item, message=result.message)
        return await self._answer(item, channel, started, lang)

    def _command(self, command: str, args: list[str], msg: InboundMessage,
                 t: Translator) -> str:
        if command == "/reset":
            removed = self.history.clear(msg.conversation)
            if self.tools is not None:
                self.tools.forget(f"{msg.platform}:{msg.sender_id}")
            return texts.reset_done(t, removed // 2)
        if command == "/status":
            order = " → ".join(self.router.order) or "none"
            waiting = max(0, self.inbox.depth() - 1)  # not this /status message itself
            return texts.status(t, __version__, order, waiting)
        if command == "/lang":
            return self._lang(args, msg)
        return texts.help_text(t)

    def _lang(self, args: list[str], msg: InboundMessage) -> str:
        languages = ", ".join(available())
        if not args:
            lang = self.language(msg)
            return texts.language_current(translator(lang), lang, languages)
        chosen = normalize(args[0])
        if chosen is None:
            return texts.language_unknown(translator(self.language(msg)), args[0], languages)
        if self.languages is not None:
            self.languages.choose(msg.platform, msg.sender_id, chosen)
        return texts.language_set(translator(chosen), chosen)

    def _over_cap(self, msg: InboundMessage) -> int | None:
        """The daily cap when this sender has reached it, else None."""
        cap = self.settings.daily_token_cap_per_sender
        if not cap or self.usage is None or msg.platform in UNCAPPED_PLATFORMS:
            return None
        return cap if self.usage.used_today(f"{msg.platform}:{msg.sender_id}") >= cap else None

    async def _record_usage(self, msg: InboundMessage, event: Finished, request: ChatRequest,
                      parts: list[str]) -> None:
        usage = event.usage or Usage(
            sum(estimate_tokens(t.content) for t in request.turns),
            estimate_tokens("".join(parts)), estimated=True)
        provider = event.provider or "unknown"
        self.events.publish(ProviderUsage(provider=provider, sender=msg.sender_id,
                                          channel=msg.platform,
                                          prompt_tokens=usage.prompt_tokens,
                                          completion_tokens=usage.completion_tokens,
                                          estimated=usage.estimated))
        if self.usage is not None:
            await self.usage.record(provider, f"{msg.platform}:{msg.sender_id}",
                                    usage.prompt_tokens, usage.completion_tokens,
                                    estimated=usage.estimated)

    async def _answer(self, item: InboxItem, channel: Channel, started: float,
                      lang: str) -> Outcome:
        msg = item.message
        cap = self._over_cap(msg)
        if cap is not None:
            return await self._capped(item, channel, cap, started, lang)
        turns = [ChatTurn("system", self.settings.system_prompt)]
        turns += self.history.recent(msg.conversation, self.settings.history_length)
        turns.append(ChatTurn("user", msg.text))
        stream = _ModelTurn(self, item, channel, turns, lang)
        try:
            await channel.reply(msg, stream.deltas())
        except ProviderError as exc:
            await stream.written()
            log.error("no provider could answer: %s", exc.message, extra={
                "event": "turn.failed", "fields": {"kind": exc.kind, "channel": msg.platform,
                                                   "hint": exc.hint}})
            self.events.publish(TurnFailed(channel=msg.platform, kind=exc.kind,
                                           error=exc.message, hint=exc.hint))
            if not stream.parts:
                await channel.send(msg.chat_id, texts.apology(translator(lang)))
                await self.inbox.finish(item.id, "failed")
                return Outcome("failed", _ms(started))
            raise
        text = "".join(stream.parts)
        await stream.written()  # usage is on disk before the row is done
        await self._complete(item, text, "answered")
        latency = _ms(started)
        overhead = latency - stream.model_wait * 1000 - sum(stream.tool_waits)
        return Outcome("answered", latency, round(max(0.0, overhead), 2), reply=text)

    async def _capped(self, item: InboxItem, channel: Channel, cap: int, started: float,
                      lang: str) -> Outcome:
        msg = item.message
        self.events.publish(UsageCapped(channel=msg.platform, sender=msg.sender_id, cap=cap))
        log.info("%s sender %s reached the daily token cap", msg.platform, msg.sender_id,
                 extra={"event": "usage.capped", "fields": {"channel": msg.platform,
                                                            "cap": cap}})
        await channel.send(msg.chat_id, texts.capped(translator(lang), cap))
        await self.inbox.finish(item.id, "capped")
        return Outcome("capped", _ms(started))

    async def _complete(self, item: InboxItem, text: str, outcome: str) -> None:
        msg = item.message
        # The exchange joins history in the transaction that marks the row done.
        await self.inbox.finish(item.id, outcome, sent=True,
                                exchange=(msg.conversation, msg.text, text))



class _ModelTurn:
    """One answer from the model (with tool rounds when tools are on), streamed to the
    channel; the text is recorded before the channel's final send."""

    def __init__(self, runner: TurnRunner, item: InboxItem, channel: Channel,
                 turns: list[ChatTurn], lang: str) -> None:
        self.runner, self.item, self.channel, self.turns, self.lang = (
            runner, item, channel, turns, lang)
        self.parts: list[str] = []
        self.model_wait = 0.0  # seconds spent waiting on the model: not our overhead
        self.tool_waits: list[float] = []  # ms in tools and confirmations: not ours either
        # Usage records, written while the answer is still sent (the write would otherwise
        # wait behind another turn's fsync before the final send); awaited by written().
        self.writes: list[asyncio.Future[None]] = []
        pipeline = runner.pipeline
        self.hooks = pipeline if pipeline is not None and pipeline.reply_hooks else None

    async def model(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = self.runner.router.stream(request).__aiter__()
        while True:
            t0 = time.monotonic()
            try:
                event = await stream.__anext__()
            except StopAsyncIteration:
                break
            finally:
                self.model_wait += time.monotonic() - t0
            if isinstance(event, Finished):
                write = asyncio.ensure_future(self.runner._record_usage(
                    self.item.message, event, request, self.parts))
                # Retrieved here too: when the turn fails first, nobody awaits it.
                write.add_done_callback(_retrieve)
                self.writes.append(write)
            yield event

    async def written(self) -> None:
        """Wait for the usage records of this turn; a failed write raises here."""
        writes, self.writes = self.writes, []
        for write in writes:
            # Done by now, as a rule: result() then costs no trip round the event loop.
            await write if not write.done() else write.result()

    async def _shown(self) -> AsyncIterator[str]:
        tools = self.runner.tools
        if tools is not None:
            async for shown in tools.run(self.item, self.channel, self.turns, self.model,
                                         self.parts, self.tool_waits, lang=self.lang):
                yield shown
            return
        async for event in self.model(ChatRequest(tuple(self.turns))):
            if isinstance(event, TextDelta):
                self.parts.append(event.text)
                yield event.text

    async def deltas(self) -> AsyncIterator[str]:
        hooks = self.hooks
        async for shown in self._shown():
            if not hooks:
                yield shown
        if hooks:  # on_reply hooks need the whole answer: it is sent in one piece
            msg = self.item.message
            text = await hooks.on_reply(msg, "".join(self.parts), self.lang, self.channel.send)
            self.parts[:] = [text]
        # Recorded before the channel's final send, so a crash after this point
        # resends this text instead of asking the model again.
        await self.runner.inbox.record_reply(self.item.id, "".join(self.parts))
        if hooks:
            yield self.parts[0]


def _retrieve(write: asyncio.Future[None]) -> None:
    if not write.cancelled():
        write.exception()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
