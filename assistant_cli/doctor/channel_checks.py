"""Doctor checks of the chat platforms, through the channels' own clients.

Telegram: getMe (the token) and getWebhookInfo (mode mismatch, queued updates, the last
delivery error) with the Bot that `channels.telegram_setup.build_bot` makes. WhatsApp: the
phone number record through `channels.whatsapp_graph.GraphClient`, which proves both the
access token and the phone number id.

python-telegram-bot and aiohttp are imported inside functions, on a thread: they are
slow to import and a doctor run without those platforms never needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant_cli.channels.whatsapp_graph import NO_SUCH_OBJECT, GraphClient, GraphError
from assistant_cli.doctor.base import (
    DoctorContext,
    Result,
    Skip,
    fail,
    in_thread,
    ok,
    skipped,
    warn,
)
from assistant_cli.errors import SecretError

if TYPE_CHECKING:
    from assistant_cli.config.models import TelegramConfig, WhatsAppConfig

RECENT_ERROR_S = 3600.0
STALE_ERROR_S = 86400.0


def _where(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _rotate_hint(ref: str, fallback: str) -> str:
    if ref.startswith("keyring:"):
        return f"assistant-cli secrets rotate {ref[8:]}"
    return fallback


async def telegram_probe(cfg: TelegramConfig, token: str,
                         timeout: float) -> tuple[Result, Any | None]:
    """getMe, then getWebhookInfo: (token result, WebhookInfo or None)."""
    import importlib

    # python-telegram-bot takes a while to import; do it off the event loop.
    await in_thread(importlib.import_module, "assistant_cli.channels.telegram_setup")
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from assistant_cli.channels.telegram_setup import build_bot

    bot = build_bot(cfg, token)
    where = _where(cfg.base_url)
    try:
        await asyncio.wait_for(bot.initialize(), timeout)  # initialize() is getMe
        me = bot.bot
        found = ok(f"token valid: @{me.username} (id {me.id})", verdict="accepted",
                   bot_id=me.id, username=me.username)
        info = await asyncio.wait_for(bot.get_webhook_info(), timeout)
        return found, info
    except InvalidToken:
        # PTB's own message quotes the token, so it is not shown.
        return fail("Telegram rejected the bot token (platforms.telegram.api_token)",
                    "get the current token from @BotFather (/token), store it with `"
                    f"{_rotate_hint(cfg.api_token, 'assistant-cli secrets set NAME')}`; also "
                    "check platforms.telegram.base_url", verdict="rejected"), None
    except (asyncio.TimeoutError, NetworkError) as exc:
        detail = "no answer in time" if isinstance(exc, asyncio.TimeoutError) else \
            str(exc).replace(token, "***")
        return fail(f"cannot reach the Bot API at {where}: {detail}",
                    f"check that network policy or a firewall lets {where} through (HTTPS_PROXY "
                    "if this network needs a proxy)", verdict="inconclusive"), None
    except TelegramError as exc:
        return fail(f"the Bot API refused getMe: {str(exc).replace(token, '***')}",
                    "check platforms.telegram.base_url", verdict="inconclusive"), None
    finally:
        # Closing a client that never connected may fail; nothing is leaked then.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bot.shutdown(), 2)


async def _shared_telegram(ctx: DoctorContext) -> tuple[Result, Any | None]:
    cfg = ctx.config().platforms.telegram
    if cfg is None:
        raise Skip("platforms.telegram is not configured")
    if not cfg.enabled:
        raise Skip("platforms.telegram.enabled is false")

    async def run() -> tuple[Result, Any | None]:
        try:
            token = await in_thread(ctx.resolve, cfg.api_token, "platforms.telegram.api_token")
        except SecretError as exc:
            return fail(exc.message, exc.hint or "store the token"), None
        return await telegram_probe(cfg, token, ctx.timeout)

    return await ctx.once("telegram", run)


async def check_telegram_token(ctx: DoctorContext) -> Result:
    result, _ = await _shared_telegram(ctx)
    return result


async def check_telegram_webhook(ctx: DoctorContext) -> Result:
    token_result, info = await _shared_telegram(ctx)
    if info is None:
        return skipped(f"needs a working token (see telegram.token: {token_result.status})")
    cfg = ctx.config().platforms.telegram
    assert cfg is not None
    return webhook_result(cfg, info, time.time())


def webhook_result(cfg: TelegramConfig, info: Any, now: float) -> Result:
    """Judge getWebhookInfo against the configured mode."""
    url = str(info.url or "")
    pending = int(info.pending_update_count or 0)
    error_at = info.last_error_date.timestamp() if info.last_error_date else None
    error = str(info.last_error_message or "")
    data: dict[str, Any] = {"url": url, "pending_update_count": pending,
                            "last_error_message": error or None, "last_error_date": error_at}
    queued = f"{pending} update(s) waiting"
    if cfg.mode == "polling":
        if url:
            return warn(f"mode is polling but Telegram has a webhook set ({url}); {queued}",
                        "serve in polling mode removes the webhook when it starts; if you meant "
                        "to use it, set platforms.telegram.mode: webhook", **data)
        return ok(f"polling, no webhook set; {queued}", **data)
    if not url:
        return warn(f"mode is webhook but Telegram has no webhook registered; {queued}",
                    "start serve: it registers platforms.telegram.webhook_url with Telegram",
                    **data)
    if cfg.webhook_url and url != cfg.webhook_url:
        return fail(f"Telegram delivers to {url}, but platforms.telegram.webhook_url is "
                    f"{cfg.webhook_url}; {queued}",
                    "restart serve so it registers the configured URL", **data)
    if error_at is not None:
        age = now - error_at
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(error_at))
        found = f"webhook {url}; last delivery error at {when}: {error}; {queued}"
        fix = ("Telegram must reach the URL over HTTPS from the internet: check DNS, the TLS "
               "certificate, nginx's proxy to the gateway port, and `assistant-cli logs "
               "--channel telegram`")
        if age < RECENT_ERROR_S and pending:
            return fail(found, fix, **data)
        if age < STALE_ERROR_S:
            return warn(found, fix, **data)
    return ok(f"webhook {url} registered; {queued}", **data)


async def whatsapp_probe(cfg: WhatsAppConfig, token: str, timeout: float) -> Result:
    """The phone number record: proves the access token and the phone number id together."""
    import importlib

    await in_thread(importlib.import_module, "aiohttp")  # slow to import; not on the loop

    client = GraphClient(cfg.graph_base_url, cfg.api_version, str(cfg.phone_number_id), token,
                         timeout=timeout, backoff=())
    where = _where(cfg.graph_base_url)
    rotate = _rotate_hint(str(cfg.access_token), "assistant-cli secrets set whatsapp_token")
    try:
        number = await asyncio.wait_for(client.phone_number(), timeout)
    except asyncio.TimeoutError:
        return fail(f"no answer from the Graph API at {where} within {timeout:g} s",
                    f"check that network policy or a firewall lets {where} through",
                    verdict="inconclusive")
    except GraphError as exc:
        if exc.auth:
            return fail(f"{exc.message}", f"create a new system-user token and store it with "
                        f"`{rotate}`", verdict="rejected")
        if exc.code == NO_SUCH_OBJECT or exc.status in (400, 403, 404):
            return fail(f"WhatsApp does not know phone number id {cfg.phone_number_id!r}, or "
                        f"the token may not use it ({exc.message})",
                        "copy the Phone number ID from WhatsApp Manager → API setup (it is not "
                        "the phone number) and give the token's system user access",
                        verdict="rejected")
        if exc.status is None:
            return fail(f"cannot reach the Graph API at {where}: {exc.message}",
                        f"check that network policy or a firewall lets {where} through",
                        verdict="inconclusive")
        return warn(f"the Graph API failed: {exc.message}", "try again in a minute",
                    verdict="inconclusive")
    finally:
        await client.aclose()
    shown = str(number.get("display_phone_number", ""))
    name = str(number.get("verified_name", ""))
    found = f"token and phone number id valid: {shown or '?'} ({name or 'no verified name'})"
    if shown and _digits(shown) != _digits(cfg.phone_number):
        return warn(f"{found}, but platforms.whatsapp.phone_number is {cfg.phone_number}",
                    "set phone_number to the number this id belongs to, or fix "
                    "phone_number_id", verdict="accepted")
    return ok(found, verdict="accepted")


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


async def check_whatsapp(ctx: DoctorContext) -> Result:
    cfg = ctx.config().platforms.whatsapp
    if cfg is None:
        return skipped("platforms.whatsapp is not configured")
    if not cfg.enabled:
        return skipped("platforms.whatsapp.enabled is false")
    missing = [k for k in ("phone_number_id", "access_token") if not getattr(cfg, k)]
    if missing:
        return fail(f"platforms.whatsapp.{missing[0]} is not set",
                    "copy the phone number id from WhatsApp Manager → API setup and store the "
                    "access token with `assistant-cli secrets set whatsapp_token`")
    try:
        token = await in_thread(ctx.resolve, str(cfg.access_token),
                                "platforms.whatsapp.access_token")
    except SecretError as exc:
        return fail(exc.message, exc.hint or "store the access token")
    return await whatsapp_probe(cfg, token, ctx.timeout)
