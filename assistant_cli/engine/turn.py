"""Answering one inbox item: policy, chat commands, the model turn, recording the reply."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant_cli import __version__
from assistant_cli.domain.messages import ChatTurn, InboundMessage, InboxItem
from assistant_cli.errors import ProviderError
from assistant_cli.providers.base import ChatRequest, Finished, TextDelta, Usage, estimate_tokens

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.config.models import AssistantConfig
    from assistant_cli.domain.events import EventBus
    from assistant_cli.providers.router import ProviderRouter
    from assistant_cli.store.history import History
    from assistant_cli.store.inbox import InboxStore
    from assistant_cli.store.usage import UsageLedger

log = logging.getLogger("assistant_cli.engine")

APOLOGY = "Sorry — I can't reach my language model right now. Please try again in a little while."
UNSUPPORTED = "I can only read text messages for now — please send your question as text."
CAPPED = ("Sorry — you've used today's allowance of {cap:,} tokens with me. It resets at "
          "00:00 UTC; please ask again after that.")
# The owner at the terminal is never capped: the cap protects against other senders.
UNCAPPED_PLATFORMS = frozenset({"console"})
HELP = (
    "Send me a message and I'll answer.\n"
    "/reset — forget this conversation\n/status — what I'm running\n/help — this text"
)

# Returns True to let the message reach the model; otherwise it has been dealt with.
PolicyCheck = Callable[[InboundMessage, "Channel"], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    """How an inbox item ended, for logs, metrics and the inbox row."""

    name: str  # answered, command, unsupported, blocked, capped, failed
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
    ) -> None:
        self.inbox = inbox
        self.history = history
        self.router = router
        self.settings = settings
        self.events = events
        self.policy = policy
        self.usage = usage

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
        if msg.kind != "text" or not msg.text.strip():
            await channel.send(msg.chat_id, UNSUPPORTED)
            await self.inbox.finish(item.id, "unsupported")
            return Outcome("unsupported", _ms(started))
        command = msg.text.strip().split()[0].split("@")[0].lower()
        if command in ("/start", "/help", "/reset", "/status"):
            await channel.send(msg.chat_id, self._command(command, msg))
            await self.inbox.finish(item.id, "command")
            return Outcome("command", _ms(started))
        return await self._answer(item, channel, started)

    def _command(self, command: str, msg: InboundMessage) -> str:
        if command == "/reset":
            removed = self.history.clear(msg.conversation)
            exchanges = removed // 2
            plural = "" if exchanges == 1 else "s"
            return f"Done — I forgot this conversation ({exchanges} exchange{plural})."
        if command == "/status":
            order = " → ".join(self.router.order) or "none"
            return (f"assistant-cli {__version__}\nproviders: {order}\n"
                    f"messages waiting: {self.inbox.depth()}")
        return HELP

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
        self.events.publish("provider.usage", provider=provider, sender=msg.sender_id,
                            channel=msg.platform, prompt_tokens=usage.prompt_tokens,
                            completion_tokens=usage.completion_tokens,
                            estimated=usage.estimated)
        if self.usage is not None:
            await self.usage.record(provider, f"{msg.platform}:{msg.sender_id}",
                                    usage.prompt_tokens, usage.completion_tokens,
                                    estimated=usage.estimated)

    async def _answer(self, item: InboxItem, channel: Channel, started: float) -> Outcome:
        msg = item.message
        cap = self._over_cap(msg)
        if cap is not None:
            self.events.publish("usage.capped", channel=msg.platform, sender=msg.sender_id,
                                cap=cap)
            log.info("%s sender %s reached the daily token cap", msg.platform, msg.sender_id,
                     extra={"event": "usage.capped", "fields": {"channel": msg.platform,
                                                                "cap": cap}})
            await channel.send(msg.chat_id, CAPPED.format(cap=cap))
            await self.inbox.finish(item.id, "capped")
            return Outcome("capped", _ms(started))
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
                elif isinstance(event, Finished):
                    await self._record_usage(msg, event, request, parts)
            # Recorded before the channel's final send, so a crash after this point
            # resends this text instead of asking the model again.
            await self.inbox.record_reply(item.id, "".join(parts))

        try:
            await channel.reply(msg, deltas())
        except ProviderError as exc:
            log.error("no provider could answer: %s", exc.message, extra={
                "event": "turn.failed", "fields": {"kind": exc.kind, "channel": msg.platform,
                                                   "hint": exc.hint}})
            self.events.publish("turn.failed", channel=msg.platform, kind=exc.kind,
                                error=exc.message, hint=exc.hint)
            if not parts:
                await channel.send(msg.chat_id, APOLOGY)
                await self.inbox.finish(item.id, "failed")
                return Outcome("failed", _ms(started))
            raise
        text = "".join(parts)
        await self._complete(item, text, "answered")
        latency = _ms(started)
        return Outcome("answered", latency, round(max(0.0, latency - model_wait * 1000), 2),
                       reply=text)

    async def _complete(self, item: InboxItem, text: str, outcome: str) -> None:
        msg = item.message
        # The exchange joins history in the transaction that marks the row done.
        await self.inbox.finish(item.id, outcome, sent=True,
                                exchange=(msg.conversation, msg.text, text))


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
