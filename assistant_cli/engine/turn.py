"""Answering one inbox item: policy, chat commands, the model turn, recording the reply."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant_cli import __version__
from assistant_cli.engine.messages import ChatTurn, InboundMessage, InboxItem
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, TextDelta

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.config.models import AssistantConfig
    from assistant_cli.engine.events import EventBus
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.store.history import History
    from assistant_cli.store.inbox import Inbox

log = logging.getLogger("assistant_cli.engine")

APOLOGY = "Sorry — I can't reach my language model right now. Please try again in a little while."
UNSUPPORTED = "I can only read text messages for now — please send your question as text."
HELP = (
    "Send me a message and I'll answer.\n"
    "/reset — forget this conversation\n/status — what I'm running\n/help — this text"
)

# Returns True to let the message reach the model; otherwise it has been dealt with.
PolicyCheck = Callable[[InboundMessage, "Channel"], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    """How an inbox item ended, for logs, metrics and the inbox row."""

    name: str  # answered, command, unsupported, blocked, failed
    latency_ms: float
    overhead_ms: float = 0.0


class TurnRunner:
    """Takes one claimed inbox item to done."""

    def __init__(
        self,
        inbox: Inbox,
        history: History,
        router: ProviderRouter,
        settings: AssistantConfig,
        events: EventBus,
        policy: PolicyCheck | None = None,
    ) -> None:
        self.inbox = inbox
        self.history = history
        self.router = router
        self.settings = settings
        self.events = events
        self.policy = policy

    async def run(self, item: InboxItem, channel: Channel) -> Outcome:
        started = time.monotonic()
        msg = item.message
        if item.reply_text is not None:
            # A reply was generated before a crash but not confirmed sent: send it, don't
            # ask the model again.
            if not item.reply_sent:
                await channel.send(msg.chat_id, item.reply_text)
            self._complete(item, item.reply_text, "answered")
            return Outcome("answered", _ms(started))
        if self.policy is not None and not await self.policy(msg, channel):
            self.inbox.finish(item.id, "blocked")
            return Outcome("blocked", _ms(started))
        if msg.kind != "text" or not msg.text.strip():
            await channel.send(msg.chat_id, UNSUPPORTED)
            self.inbox.finish(item.id, "unsupported")
            return Outcome("unsupported", _ms(started))
        command = msg.text.strip().split()[0].split("@")[0].lower()
        if command in ("/start", "/help", "/reset", "/status"):
            await channel.send(msg.chat_id, self._command(command, msg))
            self.inbox.finish(item.id, "command")
            return Outcome("command", _ms(started))
        return await self._answer(item, channel, started)

    def _command(self, command: str, msg: InboundMessage) -> str:
        if command == "/reset":
            removed = self.history.clear(msg.conversation)
            return f"Done — I forgot this conversation ({removed // 2} exchanges)."
        if command == "/status":
            order = " → ".join(self.router.order) or "none"
            return (f"assistant-cli {__version__}\nproviders: {order}\n"
                    f"messages waiting: {self.inbox.depth()}")
        return HELP

    async def _answer(self, item: InboxItem, channel: Channel, started: float) -> Outcome:
        msg = item.message
        turns = [ChatTurn("system", self.settings.system_prompt)]
        turns += self.history.recent(msg.conversation, self.settings.history_length)
        turns.append(ChatTurn("user", msg.text))
        request = ChatRequest(tuple(turns))
        parts: list[str] = []
        model_wait = 0.0

        async def deltas() -> AsyncIterator[str]:
            nonlocal model_wait
            stream = self.router.stream(request).__aiter__()
            while True:
                t0 = time.monotonic()
                try:
                    event = await stream.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    model_wait += time.monotonic() - t0
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    yield event.text
                elif isinstance(event, Finished) and event.usage is not None:
                    self.events.publish("provider.usage", provider=event.provider,
                                        sender=msg.sender_id,
                                        prompt_tokens=event.usage.prompt_tokens,
                                        completion_tokens=event.usage.completion_tokens)
            # Recorded before the channel's final send, so a crash after this point
            # resends this text instead of asking the model again.
            self.inbox.record_reply(item.id, "".join(parts))

        try:
            await channel.reply(msg, deltas())
        except ProviderError as exc:
            log.error("no provider could answer: %s", exc.message, extra={
                "event": "turn.failed", "fields": {"kind": exc.kind, "channel": msg.platform}})
            self.events.publish("turn.failed", channel=msg.platform, kind=exc.kind,
                                error=exc.message)
            if not parts:
                await channel.send(msg.chat_id, APOLOGY)
                self.inbox.finish(item.id, "failed")
                return Outcome("failed", _ms(started))
            raise
        text = "".join(parts)
        self._complete(item, text, "answered")
        latency = _ms(started)
        return Outcome("answered", latency, round(max(0.0, latency - model_wait * 1000), 2))

    def _complete(self, item: InboxItem, text: str, outcome: str) -> None:
        msg = item.message

        def remember(conn: sqlite3.Connection) -> None:
            self.history.append_exchange(conn, msg.conversation, msg.text, text, item.id)

        self.inbox.finish(item.id, outcome, sent=True, also=remember)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
