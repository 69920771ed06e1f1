"""Telegram as a chat platform: python-telegram-bot's Bot, embedded, polling or webhook.

Receiving never loses an update: an update is confirmed to Telegram (the getUpdates offset
moves past it, or the webhook call is answered 200) only once the inbox has stored it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Sequence
from typing import IO, Any

from assistant_cli.channels import ptb  # noqa: F401 - before telegram: see its docstring

# isort: split
from telegram import CallbackQuery
from telegram.error import Conflict, InvalidToken, RetryAfter

from assistant_cli.channels import telegram_api as api
from assistant_cli.channels import telegram_setup as setup
from assistant_cli.channels.base import Channel, ChannelContext, InboundSink
from assistant_cli.channels.telegram_api import GatewayBot
from assistant_cli.channels.telegram_confirm import Confirmations
from assistant_cli.channels.telegram_inbound import BotIdentity, to_inbound
from assistant_cli.channels.telegram_leader import lead_and_poll, poller_role
from assistant_cli.channels.telegram_outbound import (
    TYPING_AFTER,
    Outbox,
    ReplyStream,
    classify,
    retry_seconds,
)
from assistant_cli.channels.telegram_setup import ALLOWED_UPDATES, TOKEN_KEY
from assistant_cli.channels.telegram_webhook import SECRET_RE, WEBHOOK_PATH, make_handler
from assistant_cli.config.models import TelegramConfig
from assistant_cli.domain.events import ChannelFailing
from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.errors import AlreadyRunning, ChannelError
from assistant_cli.locks import acquire_lock, machine_lock_path
from assistant_cli.store.health import store_failure_level

log = logging.getLogger("assistant_cli.channels.telegram")

SECRET_KEY = "platforms.telegram.webhook_secret"


class TelegramChannel(Channel):
    """One bot token: receives by long polling (one poller per token per machine) or by
    webhook on the gateway, and streams answers back."""

    platform = "telegram"
    shows_status = True
    can_confirm = True
    config: TelegramConfig

    def __init__(self, config: TelegramConfig, ctx: ChannelContext) -> None:
        super().__init__(config, ctx)
        self.interval = 1.0  # seconds between interim updates of a streaming answer
        self.typing_after = TYPING_AFTER  # no "typing…" for answers complete sooner
        self.backoff_base = 1.0
        self.backoff_max = 30.0
        # After trouble, a short long-poll: its clean return is what shows we recovered, so
        # /readyz and status don't stay red for a whole poll_timeout once a conflict is over.
        self.recovery_poll = 1
        self.use_drafts = True  # turned off when the Bot API has no sendMessageDraft
        self._token: str | None = None
        self._bot: GatewayBot | None = None
        self._me: BotIdentity | None = None
        self._sink: InboundSink | None = None
        self._poller: asyncio.Task[None] | None = None
        self._offset: int | None = None
        self._token_lock: IO[str] | None = None
        self._webhook_secret: str | None = None
        self._active = 0  # replies and sends using the bot right now
        self._stopping = False
        self._confirmations = Confirmations()
        self._callbacks: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------
    async def prepare(self) -> None:
        if self.config.mode != "webhook" or not self.receiving:
            return
        app = self.ctx.web_app
        if app is None:
            raise ChannelError("platforms.telegram.mode is webhook, but the gateway is disabled",
                               hint="set gateway.enabled: true, or use mode: polling")
        if not self.config.webhook_url:
            raise ChannelError("platforms.telegram.webhook_url is required in webhook mode",
                               hint="set it to the public https:// URL that reaches "
                                    f"{WEBHOOK_PATH} on this gateway")
        if not self.config.webhook_secret:
            raise ChannelError(f"{SECRET_KEY} is required in webhook mode",
                               hint="store a random secret, e.g. `assistant-cli secrets set "
                                    "telegram_webhook_secret`, and reference it as "
                                    "keyring:telegram_webhook_secret")
        secret = self.ctx.resolve_secret(self.config.webhook_secret, SECRET_KEY)
        if not SECRET_RE.fullmatch(secret):
            raise ChannelError(f"{SECRET_KEY} may only use A-Z, a-z, 0-9, _ and - "
                               "(1-256 characters)", hint="choose a new secret")
        self._webhook_secret = secret
        app.router.add_post(WEBHOOK_PATH, make_handler(secret, self._accept_update))

    async def start(self, sink: InboundSink) -> None:
        token = self._resolve_token()
        if not self.receiving:
            await self._start_sending(token)
            return
        polling = self.config.mode == "polling"
        leadership = self.ctx.leadership
        if polling and leadership is None:
            try:
                self._token_lock = acquire_lock(machine_lock_path("telegram", token),
                                                "this Telegram bot token")
            except AlreadyRunning as exc:
                # Telegram serves each token's updates to one poller, whatever the home.
                raise AlreadyRunning(exc.message, hint="stop the other `assistant-cli serve` "
                                     "that uses this bot token, or give this one its own bot "
                                     "from @BotFather") from None
        self._stopping = False
        try:
            bot = self._bot = setup.build_bot(self.config, token)
            await setup.initialize(bot, self.config, token)
            self._me = BotIdentity(bot.id, bot.username or "")
            self._sink = sink  # before setWebhook, so the first delivery can be stored
            await setup.register_commands(bot)
            if polling:
                await setup.replace_webhook(bot)
            else:
                await setup.set_webhook(bot, self.config, self._webhook_secret, token)
        except BaseException:
            self._sink = None
            await self._close_bot()
            self._release_lock()
            raise
        if polling:
            self._poller = asyncio.create_task(
                self._poll(bot) if leadership is None else
                lead_and_poll(leadership(poller_role(token)), lambda: self._poll(bot),
                              self._handed_over), name="telegram-poller")
        self.ready = True
        log.info("telegram bot @%s receiving by %s", self._me.username, self.config.mode,
                 extra={"event": "telegram.started", "fields": {"mode": self.config.mode}})

    async def stop(self) -> None:
        self.ready = False
        self._stopping = True
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await self._confirm_offset()
        self._sink = None
        self._release_lock()
        # In-flight replies keep the bot; the last one to finish shuts it down.
        if self._active == 0:
            await self._close_bot()

    async def _start_sending(self, token: str) -> None:
        """A worker replica: the bot for answers only; intake replicas receive."""
        bot = self._bot = setup.build_bot(self.config, token)
        try:
            await setup.initialize(bot, self.config, token)
        except BaseException:
            await self._close_bot()
            raise
        self._me = BotIdentity(bot.id, bot.username or "")
        self.ready = True

    async def _handed_over(self) -> None:
        """No longer the polling leader: confirm what was stored, start afresh if leading
        again (the new leader fetches from Telegram's first unconfirmed update)."""
        await self._confirm_offset()
        self._offset = None

    def _resolve_token(self) -> str:
        if self._token is None:
            self._token = self.ctx.resolve_secret(self.config.api_token, TOKEN_KEY)
        return self._token

    async def _close_bot(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            try:
                await bot.shutdown()
            except Exception as exc:  # logged, not raised: stopping goes on regardless
                log.warning("closing the Telegram client failed: %s", exc,
                            extra={"event": "telegram.close_failed"})

    def _release_lock(self) -> None:
        handle, self._token_lock = self._token_lock, None
        if handle is not None:
            handle.close()

    @contextlib.asynccontextmanager
    async def _lease(self) -> AsyncIterator[GatewayBot]:
        bot = self._bot
        if bot is None:
            raise ChannelError("the Telegram channel is not running")
        self._active += 1
        try:
            yield bot
        finally:
            self._active -= 1
            if self._stopping and self._active == 0:
                await self._close_bot()

    # -- receiving ----------------------------------------------------------------------
    async def _poll(self, bot: GatewayBot) -> None:
        failures = 0
        while True:
            timeout = self.config.poll_timeout
            if failures:
                timeout = min(timeout, self.recovery_poll)
            try:
                updates = await api.get_updates(bot, self._offset, timeout, ALLOWED_UPDATES)
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except Exception as exc:  # anything else: report, back off, try again
                failures += 1
                await asyncio.sleep(self._trouble(exc, failures))
                continue
            if failures:
                log.info("telegram polling works again", extra={"event": "telegram.recovered"})
                failures = 0
            self.ready, self.last_error = True, None
            if not await self._take(updates):
                failures += 1
                await asyncio.sleep(self._backoff(failures))
            elif not updates and self.config.poll_timeout == 0:
                await asyncio.sleep(0.5)  # short polling: don't spin

    async def _take(self, updates: Sequence[dict[str, Any]]) -> bool:
        """Store a batch of updates in one commit; move the offset past them only then."""
        sink, me = self._sink, self._me
        if sink is None or me is None:
            return False
        buttons = [u["callback_query"] for u in updates if "callback_query" in u]
        msgs = [msg for msg in (self._read(update, me) for update in updates
                                if "callback_query" not in update) if msg is not None]
        if msgs:
            try:
                await sink.submit_many(msgs)
            except Exception as exc:
                first, last = updates[0]["update_id"], updates[-1]["update_id"]
                self.last_error = f"could not store telegram updates {first}-{last}: {exc}"
                log.log(store_failure_level(exc), "%s; they will be fetched again",
                        self.last_error, extra={"event": "telegram.store_failed"})
                return False
        for query in buttons:  # after the batch is stored: a refetch cannot press twice
            self._press(query)
        if updates:
            self._offset = int(updates[-1]["update_id"]) + 1
        return True

    @staticmethod
    def _read(update: dict[str, Any], me: BotIdentity) -> InboundMessage | None:
        try:
            return to_inbound(update, me)
        except Exception:  # retrying cannot help a message we cannot read; don't block on it
            log.exception("skipping telegram update %s that could not be read",
                          update.get("update_id"), extra={"event": "telegram.bad_update"})
            return None

    def _trouble(self, exc: Exception, failures: int) -> float:
        delay = self._backoff(failures)
        if isinstance(exc, Conflict):
            event = "telegram.conflict"
            text = ("another program is receiving updates for this Telegram bot token "
                    f"({exc.message})")
        elif isinstance(exc, InvalidToken):
            event, text = "telegram.unauthorized", f"Telegram rejected the bot token ({TOKEN_KEY})"
        else:
            event = "telegram.poll_failed"
            text = f"cannot fetch Telegram updates: {type(exc).__name__}: {exc}"
            if self._token:
                text = text.replace(self._token, "***")
        self.ready, self.last_error = False, text
        log.warning("%s — retrying in %.1f s", text, delay,
                    extra={"event": event, "fields": {"failures": failures}})
        self.ctx.events.publish(ChannelFailing(channel=self.platform, error=text))
        return delay

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_base * 2.0 ** (failures - 1), self.backoff_max)
        return delay + random.uniform(0, delay / 4)

    async def _confirm_offset(self) -> None:
        """Tell Telegram what we stored, so the next start is not handed it again."""
        bot = self._bot
        if bot is None or self._offset is None:
            return
        try:
            await api.get_updates(bot, self._offset, 0, ALLOWED_UPDATES, limit=1,
                                  read_timeout=3.0)
        except Exception as exc:  # the inbox dedupes what Telegram hands us again
            log.warning("could not confirm the last update to Telegram (it may be delivered "
                        "again and is then ignored): %s", exc,
                        extra={"event": "telegram.confirm_failed"})

    async def _accept_update(self, data: dict[str, Any]) -> int:
        """A webhook delivery: the HTTP status to answer Telegram with."""
        bot, sink, me = self._bot, self._sink, self._me
        if bot is None or sink is None or me is None:
            return 503  # not started (or stopping): Telegram keeps the update and retries
        # make_handler passed only a JSON object with an int update_id.
        if "callback_query" in data:
            return 200 if self._press(data["callback_query"]) else 400
        try:
            msg = to_inbound(data, me)
        except Exception:
            log.exception("skipping telegram update that could not be read",
                          extra={"event": "telegram.bad_update"})
            return 200
        if msg is None:
            return 200
        try:
            # Deliveries that arrive together share one commit (store/writer.py).
            await sink.submit(msg)
        except Exception as exc:
            log.log(store_failure_level(exc), "could not store telegram update: %s", exc,
                    extra={"event": "telegram.store_failed"})
            return 503  # not stored: Telegram keeps the update and delivers it again
        return 200

    # -- sending ------------------------------------------------------------------------
    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        async with self._lease() as bot:
            reply_to = msg.meta.get("message_id") if msg.is_group else None
            private = msg.meta.get("chat_type", "private") == "private"
            stream = ReplyStream(
                Outbox(bot), _chat(msg.chat_id),
                reply_to=reply_to if isinstance(reply_to, int) else None,
                use_draft=self.use_drafts and private and not msg.is_group,
                interval=self.interval, on_draft_unsupported=self._drafts_off,
                typing_after=self.typing_after)
            await stream.run(deltas)

    async def send(self, chat_id: str, text: str) -> None:
        async with self._lease() as bot:
            await Outbox(bot).send_text(_chat(chat_id), text)

    def classify_failure(self, exc: BaseException) -> DeliveryFailure | None:
        return classify(exc)

    async def confirm(self, msg: InboundMessage, request: ConfirmRequest) -> str | None:
        async with self._lease() as bot:
            return await self._confirmations.ask(bot, _chat(msg.chat_id), msg, request)

    def _press(self, raw: Any) -> bool:
        """A button press (a callback_query's JSON): answered in a task, so receiving never
        waits on sending. False if it cannot be read."""
        bot = self._bot
        try:
            query = CallbackQuery.de_json(raw, bot)
        except Exception:
            log.warning("skipping a telegram button press that could not be read",
                        extra={"event": "telegram.bad_update"})
            return False
        if bot is not None and query is not None and Confirmations.owns(query):
            task = asyncio.create_task(self._confirmations.answered(bot, query))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        return True

    def _drafts_off(self) -> None:
        self.use_drafts = False


def _chat(chat_id: str) -> int | str:
    """Telegram chat ids are integers; a public @channelname stays a string."""
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
