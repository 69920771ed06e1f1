"""WhatsApp through Meta's Cloud API: signed webhooks in, Graph API calls out.

Inbound messages are stored in the inbox before the webhook is answered 200, so Meta
redelivers anything we did not keep; redeliveries are dropped by their wamid. WhatsApp
cannot show an answer growing, so a reply marks the question read with "typing…" while
the model works and sends the finished text in pieces of at most 4096 characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

from assistant_cli.channels.base import Channel, ChannelContext, InboundSink
from assistant_cli.channels.confirm import PendingQuestions, is_answer, payload
from assistant_cli.channels.whatsapp_graph import (
    NO_SUCH_OBJECT,
    WINDOW_CLOSED,
    GraphClient,
    GraphError,
    classify,
    split_text,
)
from assistant_cli.channels.whatsapp_inbound import PayloadError, parse_payload
from assistant_cli.channels.whatsapp_webhook import (
    WEBHOOK_PATH,
    make_receive_handler,
    make_verify_handler,
)
from assistant_cli.domain.events import (
    WhatsAppDeliveryFailed,
    WhatsAppTemplateSent,
    WhatsAppTokenInvalid,
    WhatsAppWebhookError,
    WhatsAppWindowClosed,
)
from assistant_cli.domain.messages import DeliveryFailure, InboundMessage
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.errors import ChannelError, ConfigError
from assistant_cli.i18n import messages, translator
from assistant_cli.store.backend import open_state
from assistant_cli.store.db import Database
from assistant_cli.store.delivery import DeliveryLog, DeliveryStatus
from assistant_cli.store.health import is_storage_error, store_failure_level

if TYPE_CHECKING:
    from assistant_cli.config.models import WhatsAppConfig

log = logging.getLogger("assistant_cli.channels.whatsapp")

KEY = "platforms.whatsapp"
EMPTY_ANSWER = "(the model returned an empty answer)"
TYPING_EVERY = 20.0  # WhatsApp drops "typing…" after 25 s; refresh it before that
TEMPLATE_COOLDOWN = 3600.0  # at most one re-engagement template per person per hour
REQUIRED = ("phone_number_id", "access_token", "app_secret", "verify_token")
# WhatsApp allows three reply buttons: "Always" is only offered where there is room.
BUTTONS = ("once", "chat", "deny")


class WhatsAppChannel(Channel):
    """One WhatsApp Business phone number."""

    platform = "whatsapp"
    can_confirm = True
    config: WhatsAppConfig

    def __init__(self, config: WhatsAppConfig, ctx: ChannelContext) -> None:
        super().__init__(config, ctx)
        missing = [k for k in REQUIRED if not getattr(config, k)]
        if missing:
            raise ConfigError(
                f"{KEY}.{missing[0]} is not set (WhatsApp needs "
                f"{', '.join(f'{KEY}.{k}' for k in REQUIRED)})",
                hint="copy the phone number id from WhatsApp Manager → API setup; store the "
                "secrets with `assistant-cli secrets set NAME` and write keyring:NAME")
        self.phone_number_id = str(config.phone_number_id)
        self._questions = PendingQuestions()
        self.graph: GraphClient | None = None
        self.deliveries: DeliveryLog | None = None
        self.typing_every = TYPING_EVERY
        self._db: Database | None = None
        self._sink: InboundSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._template_sent: dict[str, float] = {}
        self._active = 0  # replies and sends using the Graph client right now
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------
    async def prepare(self) -> None:
        """Resolve the secrets and add the webhook routes to the gateway."""
        app = self.ctx.web_app
        if app is None:
            raise ConfigError(f"{KEY} receives messages through the gateway's webhook, but "
                              "the gateway is disabled", hint="set gateway.enabled: true")
        cfg = self.config

        def secret(name: str) -> str:
            return self.ctx.resolve_secret(str(getattr(cfg, name)), f"{KEY}.{name}")

        app_secret, verify_token = secret("app_secret"), secret("verify_token")
        self.graph = GraphClient(cfg.graph_base_url, cfg.api_version, self.phone_number_id,
                                 secret("access_token"))
        self._db = open_state(self.ctx.paths)
        self.deliveries = DeliveryLog(self._db)
        if not self.receiving:
            return  # a worker replica: the intake replicas take Meta's webhooks
        app.router.add_get(WEBHOOK_PATH, make_verify_handler(verify_token))
        app.router.add_post(WEBHOOK_PATH, make_receive_handler(app_secret, self.deliver))

    async def start(self, sink: InboundSink) -> None:
        """Check the token and the phone number id with Graph, then accept webhooks."""
        try:
            async with self._using_graph() as graph:
                number = await graph.phone_number()
        except GraphError as exc:
            raise self._start_error(exc) from None
        shown = str(number.get("display_phone_number", ""))
        if shown and _digits(shown) != _digits(self.config.phone_number):
            log.warning("%s.phone_number is %s, but phone number id %s is %s", KEY,
                        self.config.phone_number, self.phone_number_id, shown,
                        extra={"event": "whatsapp.number_mismatch"})
        self._sink = sink
        self.ready = True
        log.info("whatsapp: answering for %s (%s)", shown or self.config.phone_number,
                 number.get("verified_name", ""), extra={"event": "whatsapp.ready"})

    async def stop(self) -> None:
        """Refuse webhooks from now on; the Graph client closes after the last reply in flight."""
        self.ready = False
        self._sink = None
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        if self._active == 0:
            await self._close()

    async def _close(self) -> None:
        graph, self.graph = self.graph, None
        if graph is not None:
            await graph.aclose()
        db, self._db = self._db, None
        self.deliveries = None
        if db is not None:
            db.close()

    @contextlib.asynccontextmanager
    async def _using_graph(self) -> AsyncIterator[GraphClient]:
        if self.graph is None:
            raise ChannelError("the WhatsApp channel is not running (prepare() was not "
                               "called, or it has stopped)")
        self._active += 1
        try:
            yield self.graph
        finally:
            self._active -= 1
            if self._stopping and self._active == 0:
                await self._close()

    # -- inbound ----------------------------------------------------------------------
    async def deliver(self, data: Any) -> int:
        """Store what a verified webhook brought; the HTTP status to answer Meta with."""
        try:
            batch = parse_payload(data, self.phone_number_id)
        except PayloadError as exc:
            log.warning("whatsapp webhook refused: %s", exc,
                        extra={"event": "whatsapp.malformed_payload"})
            return 400
        for other in sorted(batch.foreign):
            log.warning("whatsapp webhook for phone number id %s ignored (this serve answers "
                        "for %s)", other, self.phone_number_id,
                        extra={"event": "whatsapp.foreign_number", "fields": {"id": other}})
        for error in batch.errors:
            log.warning("WhatsApp reported error %s: %s", error.code, error.title,
                        extra={"event": "whatsapp.webhook_error",
                               "fields": {"code": error.code}})
            self.ctx.events.publish(WhatsAppWebhookError(code=error.code, error=error.title))
        if not batch.messages and not batch.statuses:
            return 200
        sink, deliveries = self._sink, self.deliveries
        if sink is None or deliveries is None:
            return 503  # not running (yet): Meta keeps it and redelivers
        try:
            msgs = [msg for msg in batch.messages if not self._button_answer(msg)]
            if msgs:
                await sink.submit_many(msgs)
            new = await deliveries.record_many(batch.statuses) if batch.statuses else []
        except Exception as exc:
            log.log(store_failure_level(exc), "could not store a whatsapp webhook; Meta will "
                    "redeliver it", exc_info=not is_storage_error(exc),
                    extra={"event": "whatsapp.store_failed"})
            return 503  # not stored: Meta redelivers, nothing is acknowledged unstored
        for status in new:
            self._on_status(status)
        return 200

    def _button_answer(self, msg: InboundMessage) -> bool:
        """A press on one of our confirmation buttons settles its question (it is not a
        message to answer); True when `msg` was one."""
        data = msg.meta.get("reply_id")
        if not isinstance(data, str) or not is_answer(data):
            return False
        note = self._questions.answer(data, msg.sender_id)
        self._spawn(self._note(msg.chat_id, note))
        return True

    async def _note(self, chat_id: str, text: str) -> None:
        try:
            await self.send(chat_id, text)
        except Exception as exc:  # a courtesy; the decision stands regardless
            log.info("whatsapp note not sent: %s", exc)

    async def confirm(self, msg: InboundMessage, request: ConfirmRequest) -> str | None:
        token, future = self._questions.open(msg.sender_id, request)
        t = translator(request.language)
        buttons = [(payload(token, d), messages.decision_label(t, d)) for d in BUTTONS]
        try:
            async with self._using_graph() as graph:
                await graph.send_buttons(msg.chat_id, request.prompt, buttons)
        except BaseException:
            self._questions.close(token)
            raise
        return await self._questions.wait(token, future, request.timeout)

    def _on_status(self, status: DeliveryStatus) -> None:
        if status.status != "failed":
            log.debug("whatsapp message %s %s", status.message_id, status.status)
            return
        log.warning("whatsapp message %s to %s failed: error %s %s", status.message_id,
                    status.recipient_id, status.error_code, status.error_title or "",
                    extra={"event": "whatsapp.delivery_failed",
                           "fields": {"code": status.error_code}})
        self.ctx.events.publish(WhatsAppDeliveryFailed(
            recipient=status.recipient_id, message_id=status.message_id,
            code=status.error_code, error=status.error_title))
        if status.error_code == WINDOW_CLOSED:
            self._spawn(self._template_instead(status.recipient_id))

    async def _template_instead(self, to: str) -> None:
        async with self._using_graph() as graph:
            await self._window_closed(graph, to)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- outbound ---------------------------------------------------------------------
    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        async with self._using_graph() as graph:
            done = asyncio.Event()
            typing = asyncio.create_task(self._typing(graph, msg.external_id, done))
            try:
                text = "".join([piece async for piece in deltas])
            finally:
                done.set()
                # The read receipt must not land after the answer, or "typing…" would linger.
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(typing, timeout=5.0)
            await self._send_text(graph, msg.chat_id, text if text.strip() else EMPTY_ANSWER)

    async def send(self, chat_id: str, text: str) -> None:
        async with self._using_graph() as graph:
            await self._send_text(graph, chat_id, text)

    def classify_failure(self, exc: BaseException) -> DeliveryFailure | None:
        return classify(exc)

    async def _typing(self, graph: GraphClient, wamid: str, done: asyncio.Event) -> None:
        while True:
            try:
                await graph.mark_read(wamid)
            except GraphError as exc:  # cosmetic: never worth failing the answer for
                log.debug("whatsapp mark-as-read failed: %s", exc.message)
                return
            try:
                await asyncio.wait_for(done.wait(), self.typing_every)
                return
            except asyncio.TimeoutError:
                continue

    async def _send_text(self, graph: GraphClient, to: str, text: str) -> None:
        for piece in split_text(text):
            try:
                await graph.send_text(to, piece)
            except GraphError as exc:
                if exc.code == WINDOW_CLOSED:
                    await self._window_closed(graph, to)
                    return
                if exc.auth:
                    self._token_rejected(exc)
                raise

    async def _window_closed(self, graph: GraphClient, to: str) -> None:
        """Outside the 24-hour window only templates get through: send ours, or tell the owner."""
        template = self.config.template
        if template:
            last = self._template_sent.get(to)
            if last is not None and time.monotonic() - last < TEMPLATE_COOLDOWN:
                log.info("whatsapp user %s is outside the 24-hour window; template already "
                         "sent", to, extra={"event": "whatsapp.window_closed"})
                return
            # Claimed before the call: failures of several messages arrive together.
            self._template_sent[to] = time.monotonic()
            try:
                await graph.send_template(to, template, self.config.template_language)
            except GraphError as exc:
                self._template_sent.pop(to, None)
                log.error("%s.template %r was refused: %s", KEY, template, exc.message,
                          extra={"event": "whatsapp.template_failed",
                                 "fields": {"code": exc.code}})
            else:
                log.info("whatsapp user %s is outside the 24-hour window; sent template %r",
                         to, template, extra={"event": "whatsapp.template_sent"})
                self.ctx.events.publish(WhatsAppTemplateSent(recipient=to, template=template))
                return
        log.warning("whatsapp user %s is outside the 24-hour window; the message was not "
                    "delivered (set %s.template to send an approved template instead)", to,
                    KEY, extra={"event": "whatsapp.window_closed"})
        self.ctx.events.publish(WhatsAppWindowClosed(recipient=to, template=template))

    def _token_rejected(self, exc: GraphError) -> None:
        self.ready = False
        self.last_error = exc.message
        log.error("%s", exc, extra={"event": "whatsapp.token_invalid"})
        self.ctx.events.publish(WhatsAppTokenInvalid(error=exc.message))

    # -- helpers ----------------------------------------------------------------------
    def _start_error(self, exc: GraphError) -> ChannelError:
        if exc.auth:
            return exc
        if exc.code == NO_SUCH_OBJECT or exc.status in (400, 403, 404):
            return ChannelError(
                f"{KEY}.phone_number_id: WhatsApp does not know phone number id "
                f"{self.phone_number_id!r}, or the access token may not use it "
                f"({exc.message})",
                hint="copy the Phone number ID from WhatsApp Manager → API setup (it is not "
                "the phone number), and give the token's system user access to the account")
        if exc.status is None:
            return ChannelError(f"{KEY}.graph_base_url: {exc.message}",
                                hint="check the network and proxy settings, and "
                                f"{KEY}.graph_base_url if you changed it")
        return ChannelError(f"WhatsApp failed the start-up check of phone number id "
                            f"{self.phone_number_id}: {exc.message}",
                            hint="try again in a minute; `assistant-cli doctor` checks the "
                            "setup")


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)
