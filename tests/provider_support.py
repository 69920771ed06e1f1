"""Helpers for router, usage and turn tests: configs, a recording channel, one-turn runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from assistant_cli.channels.base import Channel, InboundSink
from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import Config
from assistant_cli.domain.events import Event, EventBus
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.engine.turn import Outcome, TurnRunner
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from assistant_cli.store.usage import UsageLedger


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingChannel(Channel):
    """Keeps what it would have shown."""

    platform = "test"

    def __init__(self) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]
        self.replies: list[str] = []
        self.sent: list[str] = []

    async def start(self, sink: InboundSink) -> None:
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        self.replies.append("".join([d async for d in deltas]))

    async def send(self, chat_id: str, text: str) -> None:
        self.sent.append(text)


def config(providers: dict[str, str], *, fallbacks: list[str] | None = None,
           timeout: float = 5.0, extra: str = "") -> Config:
    """Providers by name → base_url (OpenAI-compatible, key env:K); the first is default."""
    lines = ["providers:"]
    for name, url in providers.items():
        lines.append(f"  {name}: {{base_url: '{url}', model: fake-model, api_key: env:K, "
                     f"timeout: {timeout}}}")
    lines.append("assistant:")
    lines.append(f"  provider: {next(iter(providers))}")
    lines.append(f"  fallbacks: [{', '.join(fallbacks or list(providers)[1:])}]")
    lines.append("  system_prompt: sys")
    text = "\n".join(lines) + "\n" + extra
    return validate_document(parse_document(text, "c"), "c")


def router(cfg: Config, events: EventBus | None = None, **kw: Any) -> ProviderRouter:
    kw.setdefault("base_delay", 0.0)
    return ProviderRouter(cfg, lambda ref, key: "sk-test-key", events, **kw)


def drain(sub: Any) -> list[Event]:
    return [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]


class TurnHarness:
    """An inbox, a history and a TurnRunner around a router, answering one message at a time."""

    def __init__(self, tmp_path: Path, cfg: Config, **router_kw: Any) -> None:
        self.db = Database(tmp_path / "state.db")
        self.events = EventBus()
        self.sub = self.events.subscribe()
        self.router = router(cfg, self.events, **router_kw)
        self.inbox = Inbox(self.db)
        self.usage = UsageLedger(self.db)
        self.runner = TurnRunner(self.inbox, History(self.db), self.router, cfg.assistant,
                                 self.events, usage=self.usage)
        self.channel = RecordingChannel()
        self._n = 0

    async def say(self, text: str, sender: str = "u1", platform: str = "test") -> Outcome:
        self._n += 1
        msg = InboundMessage(platform=platform, external_id=str(self._n), chat_id=sender,
                             sender_id=sender, text=text)
        assert await self.inbox.add(msg) is not None
        item = await self.inbox.claim()
        assert item is not None
        return await self.runner.run(item, self.channel)

    async def close(self) -> None:
        await self.router.aclose()
        self.db.close()
