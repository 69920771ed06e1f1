"""Sending to Telegram: HTML with plain fallback, flood-control retries, streamed answers.

An answer streams as a typing action, then drafts (private chats) or edits (groups), and
ends as ordinary messages.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import random
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from assistant_cli.channels import telegram_api as api
from assistant_cli.channels.base import wait_event
from assistant_cli.channels.telegram_api import GatewayBot
from assistant_cli.channels.telegram_format import Chunk, escape, render_chunks
from assistant_cli.domain.messages import DeliveryFailure
from assistant_cli.domain.tools import StatusNote
from assistant_cli.errors import ChannelError

log = logging.getLogger("assistant_cli.channels.telegram")

T = TypeVar("T")

# Flood control longer than this is not slept through by a worker: the message is given
# back to the inbox, which waits retry_after before any worker takes it again.
MAX_RETRY_WAIT = 10.0
RETRY_ATTEMPTS = 4
TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 s
# An answer complete within this many seconds goes out without "typing…" first: the user
# could never see it, and it was a quarter of the Bot API calls per message.
TYPING_AFTER = 0.2
MIN_GROWTH = 8  # characters; smaller changes are not worth an API call
EMPTY_ANSWER = "(the model returned an empty answer)"


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds to wait, whether this PTB version reports an int or a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def classify(exc: BaseException) -> DeliveryFailure | None:
    """What a failed Bot API send means for sending it again: the one place that decides."""
    if isinstance(exc, RetryAfter):
        return DeliveryFailure(False, f"flood control: {exc.message}", retry_seconds(exc))
    if isinstance(exc, (Forbidden, ChatMigrated)):
        # Blocked by the person, kicked from the group, user deactivated; or a group that
        # became a supergroup under a new id: this chat will never take the message.
        return DeliveryFailure(True, exc.message)
    if isinstance(exc, BadRequest):  # chat not found, no rights to write ...: refused as is
        return DeliveryFailure(True, exc.message)
    if isinstance(exc, TelegramError):
        # Timeouts, 5xx, connection refused, a token the owner may still fix: all pass.
        return DeliveryFailure(False, exc.message)
    if isinstance(exc, ChannelError):  # the channel is (re)starting
        return DeliveryFailure(False, exc.message)
    return None


def is_parse_error(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) and "can't parse entities" in exc.message.lower()


def _not_modified(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) and "message is not modified" in exc.message.lower()


class Outbox:
    """Delivers rendered chunks with one bot; every call survives HTML rejection and 429s."""

    def __init__(
        self, bot: GatewayBot, *, max_wait: float = MAX_RETRY_WAIT, attempts: int = RETRY_ATTEMPTS
    ) -> None:
        self.bot = bot
        self.max_wait = max_wait
        self.attempts = attempts

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run an API call, sleeping through flood control a few times before giving up."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await make()
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if attempt >= self.attempts or wait > self.max_wait:
                    raise
                log.warning("telegram flood control: waiting %.0f s", wait,
                            extra={"event": "telegram.retry_after", "fields": {"wait_s": wait}})
                await asyncio.sleep(wait)
        raise AssertionError("attempts must be at least 1")

    async def send_chunk(self, chat_id: int | str, chunk: Chunk, reply_to: int | None) -> int:
        """Send one message; returns its message_id."""
        try:
            return await self.call(lambda: api.send_message(
                self.bot, chat_id, chunk.html, html=True, reply_to=reply_to))
        except BadRequest as exc:
            if not is_parse_error(exc):
                raise
            log.warning("telegram refused our HTML (%s); sending plain text", exc.message,
                        extra={"event": "telegram.html_rejected"})
            return await self.call(lambda: api.send_message(
                self.bot, chat_id, chunk.plain, reply_to=reply_to))

    async def edit_chunk(self, chat_id: int | str, message_id: int, chunk: Chunk) -> int:
        """Replace a message's text; an unchanged text is fine, a vanished message is sent
        anew. Returns the id of the message that now shows the text."""
        try:
            try:
                await self.call(lambda: api.edit_message_text(
                    self.bot, chat_id, message_id, chunk.html, html=True))
            except BadRequest as exc:
                if not is_parse_error(exc):
                    raise
                await self.call(lambda: api.edit_message_text(
                    self.bot, chat_id, message_id, chunk.plain))
        except BadRequest as exc:
            if _not_modified(exc):
                return message_id
            if "message to edit not found" in exc.message.lower():
                return await self.send_chunk(chat_id, chunk, None)
            raise
        return message_id

    async def send_text(self, chat_id: int | str, text: str, reply_to: int | None = None) -> None:
        """Render Markdown, split it, and send every part in order."""
        for index, chunk in enumerate(chunks_for(text)):
            await self.send_chunk(chat_id, chunk, reply_to if index == 0 else None)


# Fire-and-forget tasks, referenced until they end (the loop itself holds them only weakly).
_BACKGROUND: set[asyncio.Task[None]] = set()


def _keep(task: asyncio.Task[None]) -> None:
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def chunks_for(text: str) -> list[Chunk]:
    return render_chunks(text) or [Chunk(escape(EMPTY_ANSWER), EMPTY_ANSWER)]


class ReplyStream:
    """Shows one answer as it streams in, then delivers the final text.

    Interim updates run as background tasks, one at a time and at most once per `interval`,
    so a slow Telegram call never holds up reading the model's stream.
    """

    def __init__(
        self,
        outbox: Outbox,
        chat_id: int | str,
        *,
        reply_to: int | None,
        use_draft: bool,
        interval: float,
        on_draft_unsupported: Callable[[], None] = lambda: None,
        typing_after: float = TYPING_AFTER,
    ) -> None:
        self.outbox = outbox
        self.typing_after = typing_after
        # Interim updates never wait out flood control: they are skipped instead.
        self.quick = Outbox(outbox.bot, attempts=1)
        self.chat_id = chat_id
        self.reply_to = reply_to
        # Drafts exist only in private chats, which are always addressed by number.
        self.use_draft = use_draft and isinstance(chat_id, int)
        self.interval = interval
        self.on_draft_unsupported = on_draft_unsupported
        self.draft_id = random.randint(1, 2**31 - 1)
        self.message_id: int | None = None  # the message being edited (edit streaming)
        self._shown = ""  # HTML of the last interim update
        self._shown_len = 0
        # Answers that finish within the first interval arrive as one plain message.
        self._next_at = time.monotonic() + interval
        self._push: asyncio.Task[None] | None = None
        self._interim_ok = True

    async def run(self, deltas: AsyncIterator[str]) -> None:
        typing_done, generated = asyncio.Event(), asyncio.Event()
        _keep(asyncio.create_task(self._typing(typing_done, generated)))
        text = ""
        try:
            async for piece in deltas:
                if isinstance(piece, StatusNote):  # shown in the draft, never sent as answer
                    typing_done.set()
                    self._next_at = 0.0
                    self._maybe_push(f"{text}\n\n{piece}" if text else piece)
                    continue
                text += piece
                if text.strip():
                    typing_done.set()
                    self._maybe_push(text)
        except BaseException:
            if self._push is not None:
                self._push.cancel()
            raise
        finally:
            typing_done.set()
            generated.set()
        if self._push is not None:
            await asyncio.gather(self._push, return_exceptions=True)
        await self._finish(text)

    async def _typing(self, done: asyncio.Event, generated: asyncio.Event) -> None:
        # Stopped by the events, never cancelled: cancelling a request mid-flight would
        # throw away its pooled connection.
        if await wait_event(generated, self.typing_after):
            return
        while True:
            try:
                await self.outbox.bot.send_chat_action(self.chat_id, ChatAction.TYPING)
            except Exception as exc:  # cosmetic; never worth failing or waiting for
                log.debug("typing action failed: %s", exc)
            if await wait_event(done, TYPING_EVERY):
                return

    def _maybe_push(self, text: str) -> None:
        now = time.monotonic()
        if not self._interim_ok or now < self._next_at:
            return
        if self._push is not None and not self._push.done():
            return
        if len(text) - self._shown_len < MIN_GROWTH:
            return
        self._next_at = now + self.interval
        self._shown_len = len(text)
        self._push = asyncio.create_task(self._interim(text))

    async def _interim(self, text: str) -> None:
        preview = chunks_for(text)[0]
        if preview.html == self._shown:
            return
        try:
            if self.use_draft:
                if not await self._draft(preview):
                    return
            elif self.message_id is None:
                self.message_id = await self.quick.send_chunk(self.chat_id, preview,
                                                              self.reply_to)
            else:
                self.message_id = await self.quick.edit_chunk(self.chat_id, self.message_id,
                                                              preview)
            self._shown = preview.html
        except RetryAfter as exc:
            # Flood control: skip interim updates until it lifts; the final send waits it out.
            self._next_at = time.monotonic() + retry_seconds(exc)
        except BadRequest as exc:
            if not _not_modified(exc):
                log.warning("interim update refused: %s", exc.message,
                            extra={"event": "telegram.stream_failed"})
                self._interim_ok = False
        except NetworkError as exc:
            log.debug("interim update failed: %s", exc)
        except TelegramError as exc:
            log.warning("interim updates stopped: %s", exc.message,
                        extra={"event": "telegram.stream_failed"})
            self._interim_ok = False

    async def _draft(self, preview: Chunk) -> bool:
        """Show the preview as a draft; False when drafts turned out to be unsupported."""
        bot, chat_id = self.outbox.bot, self.chat_id
        assert isinstance(chat_id, int)  # see __init__: drafts only for numeric chat ids
        try:
            try:
                await bot.send_message_draft(chat_id, self.draft_id, preview.html,
                                             parse_mode=ParseMode.HTML)
            except BadRequest as exc:
                if not is_parse_error(exc):
                    raise
                await bot.send_message_draft(chat_id, self.draft_id, preview.plain)
        except (BadRequest, InvalidToken) as exc:
            # A refusal, or 404 from a Bot API server that predates drafts (PTB reports
            # every 404 as InvalidToken); network trouble and 429 are handled by the caller.
            self._drafts_unsupported(exc)
            return False
        return True

    def _drafts_unsupported(self, exc: TelegramError) -> None:
        log.warning("sendMessageDraft is not available (%s); streaming by editing instead",
                    exc.message, extra={"event": "telegram.drafts_unsupported"})
        self.use_draft = False
        self.on_draft_unsupported()
        self._next_at = 0.0  # show the edit-streamed message right away

    async def _finish(self, text: str) -> None:
        chunks = chunks_for(text)
        if self.message_id is None:
            for index, chunk in enumerate(chunks):
                await self.outbox.send_chunk(self.chat_id, chunk,
                                             self.reply_to if index == 0 else None)
            return
        first, rest = chunks[0], chunks[1:]
        if first.html != self._shown:
            await self.outbox.edit_chunk(self.chat_id, self.message_id, first)
        for chunk in rest:
            await self.outbox.send_chunk(self.chat_id, chunk, None)
