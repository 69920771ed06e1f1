"""After a failed try: schedule the retry or give up, say so, and later tell the sender.

The schedule itself lives in the inbox row (store/retry.py); the engine only reports the
decision. Given-up messages whose sender can still be reached get one notice per chat,
sent once their channel works again: after any message of that channel was answered, or
at the latest every `every` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from assistant_cli.domain.events import MessageError, MessageFailed, NoticeSent
from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator

if TYPE_CHECKING:
    from assistant_cli.channels.base import Channel
    from assistant_cli.domain.events import EventBus
    from assistant_cli.domain.messages import InboxItem
    from assistant_cli.store.inbox import InboxStore
    from assistant_cli.store.retry import Decision
    from assistant_cli.store.undelivered import PendingNotice, Undelivered

log = logging.getLogger("assistant_cli.engine")


async def after_failure(inbox: InboxStore, events: EventBus, item: InboxItem,
                        channel: Channel, exc: Exception) -> Decision:
    """Classify the error, let the inbox schedule or give up, and log and publish it."""
    failure = channel.classify_failure(exc)
    error = f"{type(exc).__name__}: {exc}"
    decision = await inbox.release(item.id, error, failure)
    platform = item.message.platform
    fields = {"channel": platform, "id": item.id, "attempts": item.attempts}
    if decision.retry:
        wait = max(0.0, decision.not_before - inbox.clock())
        text = "failed to handle %s message %d (%s); trying again in %.1f s"
        args = (platform, item.id, error, wait)
        if failure is None:  # not a delivery failure: a traceback helps find the bug
            log.exception(text, *args, extra={"event": "message.error", "fields": fields})
        else:
            log.warning(text, *args, extra={"event": "message.error", "fields": fields})
    else:
        log.warning("gave up on %s message %d (%s): %s", platform, item.id, decision.reason,
                    error, exc_info=failure is None,
                    extra={"event": "message.given_up",
                           "fields": {**fields, "reason": decision.reason}})
        events.publish(MessageFailed(channel=platform, id=item.id, reason=decision.reason,
                                     error=error))
    events.publish(MessageError(channel=platform, error=str(exc), retry=decision.retry))
    return decision


class Notifier:
    """Tells senders whose messages were given up, once their channel works again."""

    def __init__(self, undelivered: Undelivered, channels: Mapping[str, Channel],
                 events: EventBus, *, every: float = 30.0,
                 language: Callable[[str, str], str] | None = None) -> None:
        self.undelivered = undelivered
        # (platform, chat id) -> language; in a direct chat the chat id is the sender's id.
        self.language = language
        self.channels = channels
        self.events = events
        self.every = every
        self._wake = asyncio.Event()

    def channel_works(self) -> None:
        """A message was answered: a good moment to try the notices."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.send_pending()
            except Exception:  # never let the notices stop the engine
                log.exception("could not send the pending notices",
                              extra={"event": "notice.error"})
            # asyncio.wait, not wait_for: before Python 3.12, wait_for swallows a cancel
            # that arrives just as the wake-up does, and stop() would wait forever.
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.every)
            finally:
                waiter.cancel()
            await asyncio.sleep(min(1.0, self.every))  # at most one pass a second

    async def send_pending(self) -> int:
        """One pass; returns how many chats were told."""
        down: set[str] = set()
        told = 0
        for notice in self.undelivered.pending_notices(self.channels):
            if notice.platform not in down:
                if await self._tell(notice):
                    told += 1
                else:
                    down.add(notice.platform)
        return told

    async def _tell(self, notice: PendingNotice) -> bool:
        """False when the channel still fails (try again later)."""
        channel = self.channels[notice.platform]
        try:
            lang = self.language(notice.platform, notice.chat_id) if self.language else "en"
            text = texts.not_answered(translator(lang), len(notice.ids), notice.first_text)
            await channel.send(notice.chat_id, text)
        except Exception as exc:
            failure = channel.classify_failure(exc)
            if failure is not None and failure.permanent:
                self.undelivered.mark_noticed(notice.ids, "unreachable")
                return True
            log.info("%s still fails (%s); the not-answered notice waits", notice.platform,
                     exc, extra={"event": "notice.deferred"})
            return False
        self.undelivered.mark_noticed(notice.ids)
        log.info("told %s chat %s that %d message(s) were not answered", notice.platform,
                 notice.chat_id, len(notice.ids),
                 extra={"event": "notice.sent", "fields": {"channel": notice.platform,
                                                           "count": len(notice.ids)}})
        self.events.publish(NoticeSent(channel=notice.platform, count=len(notice.ids)))
        return True
