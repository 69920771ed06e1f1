"""Public helpers for testing plugins without a running `serve`: a fake handler context,
a fake inbound message, running a tool as a model's call would, and a loopback provider
that answers without a network.

    from assistant_cli.testing import FakeContext, fake_message

    async def test_ping() -> None:
        ctx = FakeContext()
        assert await MyHandler().handle(fake_message("/ping"), ctx) == Answer("pong")
"""

from __future__ import annotations

import gettext
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant_cli import i18n
from assistant_cli.i18n import translator
from assistant_cli.plugin import (
    Caller,
    ChatRequest,
    ChatTurn,
    Finished,
    Handler,
    HandlerResult,
    InboundMessage,
    KeyValueStore,
    Locale,
    Provider,
    ProviderConfig,
    StreamEvent,
    TextDelta,
    Tool,
    Usage,
)
from assistant_cli.tools.base import reset_caller, set_caller
from assistant_cli.tools.executor import parse_arguments

__all__ = ["FakeContext", "LoopbackProvider", "MemoryStore", "catalog_template", "collect",
           "fake_message", "run_handler", "run_tool", "translations"]

_ids = itertools.count(1)


class MemoryStore(KeyValueStore):
    """A plugin key-value store kept in a dict (the real one is in the state database)."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.data.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.data[key] = str(value)

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.data if k.startswith(prefix))


@dataclass
class FakeContext:
    """A HandlerContext that records what the handler sent instead of sending it."""

    sender: str = "1001"
    platform: str = "test"
    chat_id: str = "1001"
    language: str = "en"
    store: KeyValueStore = field(default_factory=MemoryStore)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("plugin.test"))
    sent: list[str] = field(default_factory=list)

    async def send(self, text: str) -> None:
        self.sent.append(text)

    def gettext(self, message: str) -> str:
        return translator(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translator(self.language).ngettext(singular, plural, n)


def fake_message(text: str, *, sender: str = "1001", platform: str = "test",
                 chat_id: str | None = None, language_code: str | None = None,
                 kind: str = "text") -> InboundMessage:
    """An inbound message as a channel would hand it to the engine."""
    meta = {"language_code": language_code} if language_code else {}
    return InboundMessage(platform=platform, external_id=f"fake-{next(_ids)}",
                          chat_id=chat_id or sender, sender_id=sender, text=text, kind=kind,
                          meta=meta)


async def run_handler(handler: Handler, text: str,
                      ctx: FakeContext | None = None) -> HandlerResult:
    """Send `text` through one handler with a fresh (or the given) fake context."""
    return await handler.handle(fake_message(text, sender=(ctx or FakeContext()).sender),
                                ctx or FakeContext())


async def run_tool(tool: Tool, arguments: dict[str, object] | str | None = None, *,
                   sender: str = "1001", platform: str = "test",
                   chat_id: str | None = None) -> str:
    """Call `tool` as `serve` does for a model: the arguments (a dict or the model's JSON
    text) are checked against the tool's schema, `current_caller()` answers with the given
    sender, and the result is the text the model would read.

    Raises:
        ValueError: when the arguments do not fit the schema; the message is what the
            model would have been told.
    """
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    checked, problem = parse_arguments(text, tool)
    if problem is not None:
        raise ValueError(f"{tool.name}: {problem}")
    token = set_caller(Caller(platform, sender, chat_id or sender))
    try:
        return await tool.run(checked)
    finally:
        reset_caller(token)


class LoopbackProvider(Provider):
    """A model that answers `reply(last user text)` (default: "echo: <text>"), no network."""

    def __init__(self, reply: Callable[[str], str] | None = None, name: str = "loopback") -> None:
        super().__init__(name, ProviderConfig(base_url="http://127.0.0.1/loopback",
                                              model="loopback"), lambda ref, key: "")
        self.reply = reply or (lambda text: f"echo: {text}")
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        last = next((t.content for t in reversed(request.turns) if t.role == "user"), "")
        answer = self.reply(last)
        for i, word in enumerate(answer.split(" ")):
            yield TextDelta(word if i == 0 else " " + word)
        yield Finished("stop", Usage(len(last), len(answer), estimated=True), model="loopback",
                       provider=self.name)


async def collect(provider: Provider, text: str) -> str:
    """The whole answer of `provider` to one user message."""
    parts = [e.text async for e in provider.stream(ChatRequest((ChatTurn("user", text),)))
             if isinstance(e, TextDelta)]
    return "".join(parts)


def catalog_template() -> Path:
    """The .pot file listing every message assistant-cli sends to chat users (what a
    locale plugin translates)."""
    return i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot"


def translations(locale: Locale, language: str) -> gettext.NullTranslations:
    """The translations `serve` would use for `language` with this locale plugin installed
    (its catalog first, then the built-in ones, then English)."""
    found = gettext.translation(i18n.DOMAIN, locale.directory, languages=[language],
                                fallback=True)
    found.add_fallback(translator(language))
    return found
