"""Connecting a bot token to Telegram: the Bot object, token check, command menu, webhook."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand
from telegram.error import InvalidToken, TelegramError

from assistant_cli.channels.telegram_aiohttp import AiohttpRequest
from assistant_cli.channels.telegram_api import POLL_READ_TIMEOUT, GatewayBot
from assistant_cli.config.models import TelegramConfig
from assistant_cli.errors import ChannelError
from assistant_cli.i18n import ENGLISH, available, translator
from assistant_cli.i18n.messages import MENU

log = logging.getLogger("assistant_cli.channels.telegram")

TOKEN_KEY = "platforms.telegram.api_token"
# Edits would be answered a second time, and nothing else is a question for the assistant.
ALLOWED_UPDATES = ["message", "callback_query"]  # button presses: tool confirmations


def build_bot(config: TelegramConfig, token: str) -> GatewayBot:
    """A Bot with connection pools and timeouts suited to a long-running gateway."""
    base = config.base_url
    file_url = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base
    # Sized for every worker streaming at once (typing, interim update, final send).
    request = AiohttpRequest(connection_pool_size=64, connect_timeout=10.0,
                             read_timeout=20.0, write_timeout=20.0, pool_timeout=10.0)
    # The long-poll timeout is added to this read timeout for getUpdates (telegram_api.py).
    polling = AiohttpRequest(connection_pool_size=2, connect_timeout=10.0,
                             read_timeout=POLL_READ_TIMEOUT, write_timeout=10.0,
                             pool_timeout=5.0)
    return GatewayBot(token, base_url=base, base_file_url=file_url, request=request,
                      get_updates_request=polling)


def _hide(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


async def initialize(bot: Bot, config: TelegramConfig, token: str) -> None:
    """getMe: proves the token works; errors name the config key, never the token."""
    try:
        await bot.initialize()
    except InvalidToken:
        # PTB's own message quotes the token, so it is not passed on.
        raise ChannelError(
            f"Telegram rejected the bot token ({TOKEN_KEY})",
            hint="check the token from @BotFather (and platforms.telegram.base_url), store it "
                 "again, then run `assistant-cli doctor`") from None
    except TelegramError as exc:
        raise ChannelError(
            f"cannot reach Telegram at {config.base_url}: {_hide(exc.message, token)}",
            hint="check the network and platforms.telegram.base_url, then run "
                 "`assistant-cli doctor`") from None


async def register_commands(bot: Bot) -> None:
    """Fill the bot's command menu; a failure only costs the menu, so it is just logged."""
    try:
        await bot.set_my_commands([BotCommand(name, text) for name, text in MENU])
        # Telegram shows users the menu of their app's language (two-letter code).
        for lang in available():
            if lang != ENGLISH:
                t = translator(lang)
                await bot.set_my_commands([BotCommand(n, t.gettext(d)) for n, d in MENU],
                                          language_code=lang.split("_")[0].lower())
    except TelegramError as exc:
        log.warning("could not register bot commands: %s", exc.message,
                    extra={"event": "telegram.commands_failed"})


async def replace_webhook(bot: Bot) -> None:
    """Polling and a webhook exclude each other: polling mode removes a webhook it finds."""
    try:
        info = await bot.get_webhook_info()
        if info.url:
            # Queued updates are kept: polling picks them up next.
            await bot.delete_webhook()
            log.warning("a webhook was set for this bot (%s); polling mode removed it",
                        info.url, extra={"event": "telegram.webhook_removed"})
    except TelegramError as exc:
        # Not fatal here: if a webhook is still set, the poller reports the conflict.
        log.warning("could not check for a webhook: %s", exc.message,
                    extra={"event": "telegram.webhook_check_failed"})


async def set_webhook(bot: Bot, config: TelegramConfig, secret: str | None, token: str) -> None:
    """Point Telegram at our webhook URL, with the secret it must send back."""
    url = config.webhook_url
    if not url or secret is None:
        raise ChannelError("platforms.telegram.webhook_url and webhook_secret are required in "
                           "webhook mode", hint="set both in config.yaml")
    try:
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    except TelegramError as exc:
        raise ChannelError(
            f"Telegram refused the webhook {url}: {_hide(exc.message, token)}",
            hint="platforms.telegram.webhook_url must be a public https:// URL on port 443, "
                 "80, 88 or 8443") from None
