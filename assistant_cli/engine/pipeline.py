"""The handler pipeline: plugins that see a message before the model, in declared order.

Each handler may answer (the model is not called), rewrite the text, or pass. One that
raises or exceeds its time limit is skipped for that message (logged, counted in
/metrics as `handler.failed`), and the message goes on as if it had passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant_cli.domain.events import HandlerFailed
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.i18n import translator
from assistant_cli.plugin import Answer, Handler, KeyValueStore, Pass, Rewrite

if TYPE_CHECKING:
    from assistant_cli.domain.events import EventBus
    from assistant_cli.plugins.loading import LoadedHandler

log = logging.getLogger("assistant_cli.handlers")

StoreFactory = Callable[[str], KeyValueStore]
Sender = Callable[[str, str], Awaitable[None]]  # (chat_id, text)


@dataclass
class Context:
    """The HandlerContext one handler gets for one message."""

    sender: str
    platform: str
    chat_id: str
    language: str
    store: KeyValueStore
    log: logging.Logger
    _send: Sender

    async def send(self, text: str) -> None:
        await self._send(self.chat_id, text)

    def gettext(self, message: str) -> str:
        return translator(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translator(self.language).ngettext(singular, plural, n)


class _Failed:
    """What _call returns for a handler that raised or timed out (already reported)."""


FAILED = _Failed()


@dataclass(frozen=True)
class PipelineResult:
    """What the handlers made of a message: an answer (with who gave it), or the message
    to give the model (possibly rewritten)."""

    message: InboundMessage
    answer: str | None = None
    by: str | None = None


class HandlerPipeline:
    """Runs the loaded handlers in order; owns their stores and loggers."""

    def __init__(self, handlers: Sequence[LoadedHandler], stores: StoreFactory,
                 events: EventBus | None = None) -> None:
        self.handlers = list(handlers)
        self.events = events
        self._stores = {h.name: stores(h.name) for h in self.handlers}
        self._logs = {h.name: logging.getLogger(f"assistant_cli.plugins.{h.name}")
                      for h in self.handlers}
        self.reply_hooks = [h for h in self.handlers
                            if type(h.handler).on_reply is not Handler.on_reply]

    def context(self, name: str, msg: InboundMessage, language: str, send: Sender) -> Context:
        return Context(msg.sender_id, msg.platform, msg.chat_id, language, self._stores[name],
                       self._logs[name], send)

    async def run(self, msg: InboundMessage, language: str, send: Sender) -> PipelineResult:
        for loaded in self.handlers:
            ctx = self.context(loaded.name, msg, language, send)
            result = await self._call(loaded, loaded.handler.handle(msg, ctx))
            if isinstance(result, Answer) and isinstance(result.text, str) and result.text:
                return PipelineResult(msg, result.text, loaded.name)
            if isinstance(result, Rewrite) and isinstance(result.text, str):
                msg = replace(msg, text=result.text)
            elif result is not None and not isinstance(result, (Pass, _Failed)):
                # A plugin bug (returned a str, an empty Answer ...): treat it as a failure.
                self._failed(loaded, "error", f"returned {result!r}; expected Answer(text), "
                             "Rewrite(text) or Pass()", time.monotonic())
        return PipelineResult(msg)

    async def on_reply(self, msg: InboundMessage, reply: str, language: str,
                       send: Sender) -> str:
        for loaded in self.reply_hooks:
            ctx = self.context(loaded.name, msg, language, send)
            changed = await self._call(loaded, loaded.handler.on_reply(msg, reply, ctx))
            if isinstance(changed, str) and changed:
                reply = changed
            elif not isinstance(changed, _Failed):
                self._failed(loaded, "error", f"on_reply returned {changed!r}; expected the "
                             "reply's text", time.monotonic())
        return reply

    async def _call(self, loaded: LoadedHandler, call: Awaitable[Any]) -> Any:
        """The handler's result, or FAILED when it raised or ran out of time."""
        started = time.monotonic()
        try:
            return await asyncio.wait_for(call, timeout=loaded.timeout)
        except asyncio.TimeoutError:
            self._failed(loaded, "timeout", f"took longer than {loaded.timeout:g} s", started)
        except Exception as exc:
            self._failed(loaded, "error", f"{type(exc).__name__}: {exc}", started)
        return FAILED

    def _failed(self, loaded: LoadedHandler, reason: str, detail: str, started: float) -> None:
        log.warning("handler %s (%s) skipped for this message: %s", loaded.name, loaded.package,
                    detail, extra={"event": "handler.failed", "fields": {
                        "handler": loaded.name, "reason": reason,
                        "elapsed_ms": round((time.monotonic() - started) * 1000, 1)}})
        if self.events is not None:
            self.events.publish(HandlerFailed(handler=loaded.name, reason=reason, error=detail))
