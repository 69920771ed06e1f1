"""/remind: note something for later; due reminders come back with your next message.

    /remind 10m buy milk     remember "buy milk" for 10 minutes from now
    /remind                  list what is pending
    /remind clear            forget them all

Reminders live in the plugin's key-value store (the state database), so they survive a
restart. A handler only runs when a message arrives, so a due reminder is delivered with
the sender's next message (sent with ctx.send before that message is answered).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from assistant_cli.plugin import (
    API_VERSION,
    Answer,
    Handler,
    HandlerContext,
    HandlerResult,
    InboundMessage,
    Pass,
)

WHEN = re.compile(r"^(\d+)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Settings(BaseModel, extra="forbid"):
    """plugins.settings.remind in config.yaml."""

    max_per_sender: int = Field(default=20, ge=1, le=1000)


class RemindHandler(Handler):
    name = "remind"
    api_version = API_VERSION
    Settings = Settings
    timeout = 2.0

    def __init__(self, settings: BaseModel | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings)
        self.clock = clock

    @property
    def limit(self) -> int:
        return self.settings.max_per_sender if isinstance(self.settings, Settings) else 20

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> HandlerResult:
        key = f"{ctx.platform}:{ctx.sender}"
        pending = json.loads(ctx.store.get(key) or "[]")
        due = [r for r in pending if r["at"] <= self.clock()]
        if due:
            pending = [r for r in pending if r["at"] > self.clock()]
            ctx.store.set(key, json.dumps(pending))
            for reminder in due:
                await ctx.send(f"⏰ {ctx.gettext('Reminder')}: {reminder['text']}")
        words = message.text.split(maxsplit=2)
        if not words or words[0].split("@")[0].lower() != "/remind":
            return Pass()
        return Answer(self._command(words[1:], pending, key, ctx))

    def _command(self, args: list[str], pending: list[dict[str, object]], key: str,
                 ctx: HandlerContext) -> str:
        if not args:
            if not pending:
                return "Nothing pending. Example: /remind 10m buy milk"
            return "\n".join(f"- {r['text']} (in {_left(float(str(r['at'])) - self.clock())})"
                             for r in pending)
        if args[0].lower() == "clear":
            ctx.store.delete(key)
            return f"Forgot {len(pending)} reminder(s)."
        match = WHEN.match(args[0].lower())
        if match is None or len(args) < 2:
            return "Usage: /remind 10m buy milk (s, m, h or d), /remind, /remind clear"
        if len(pending) >= self.limit:
            return f"You already have {self.limit} reminders; /remind clear forgets them."
        at = self.clock() + int(match.group(1)) * UNIT_SECONDS[match.group(2)]
        pending.append({"at": at, "text": args[1]})
        ctx.store.set(key, json.dumps(pending))
        return f"OK, I'll remind you in {args[0]}: {args[1]}"


def _left(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
