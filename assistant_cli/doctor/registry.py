"""The table of doctor checks, in report order.

To add a check: write `async def check_x(ctx) -> Result` in the module of its group (it
must not change anything), optionally an `async def fix_x(ctx) -> list[str]` that makes
only safe repairs and returns what it changed, and add a row here. Checks that leave this
machine set `network=True` so that `--offline` skips them.
"""

from __future__ import annotations

import asyncio

from assistant_cli.doctor import (
    channel_checks,
    gateway_checks,
    pg_checks,
    provider_checks,
    secret_checks,
    setup_checks,
    state_checks,
)
from assistant_cli.doctor.base import Check, DoctorContext, in_thread
from assistant_cli.doctor.tool_checks import mcp_checks
from assistant_cli.errors import ConfigError

STATIC: tuple[Check, ...] = (
    Check("env.os", "operating system is Linux or macOS", setup_checks.check_os),
    Check("env.python", "Python version and virtualenv", setup_checks.check_python),
    Check("config.valid", "config.yaml parses and validates", setup_checks.check_config),
    Check("config.secrets", "no literal secrets in config.yaml",
          setup_checks.check_literal_secrets),
    Check("secrets.keyring", "the keyring backend answers", secret_checks.check_keyring,
          on_timeout=secret_checks.KEYRING_TIMEOUT_FIX),
    Check("secrets.present", "every referenced secret is present",
          secret_checks.check_present, fix=secret_checks.generate_missing,
          on_timeout=secret_checks.KEYRING_TIMEOUT_FIX),
    Check("secrets.rotation", "secrets rotated within secrets.rotation_days",
          secret_checks.check_rotation),
    Check("state.database", "state.db integrity_check, or PostgreSQL reachable (TLS)",
          state_checks.check_database),
    Check("state.migrations", "the state's schema is current", state_checks.check_migrations),
    Check("state.audit", "the audit log's HMAC chain is intact", state_checks.check_audit,
          on_timeout=secret_checks.KEYRING_TIMEOUT_FIX),
    Check("state.undelivered", "no message given up unanswered (inbox failed)",
          state_checks.check_undelivered),
    Check("state.lag", "no claimed message past its lease (PostgreSQL)",
          pg_checks.check_lag),
    Check("state.permissions", "config, state and logs are private (no group/world access)",
          state_checks.check_permissions, fix=state_checks.fix_permissions),
    Check("state.disk", "free disk space for state and logs", state_checks.check_disk),
    Check("gateway.port", "gateway port free, or serve answering /healthz and /readyz",
          gateway_checks.check_port),
    Check("gateway.tls", "gateway TLS files: parse, key match, chain order, expiry",
          gateway_checks.check_tls),
    Check("providers.tls", "providers' TLS files: parse, key match, chain order, expiry",
          provider_checks.check_provider_tls),
    Check("telegram.token", "Telegram getMe: the bot token works",
          channel_checks.check_telegram_token, network=True),
    Check("telegram.webhook", "Telegram getWebhookInfo: mode, queued updates, last error",
          channel_checks.check_telegram_webhook, network=True),
    Check("whatsapp.token", "WhatsApp access token and phone number id",
          channel_checks.check_whatsapp, network=True),
)
GROUPS = ("env", "config", "secrets", "state", "gateway", "providers", "telegram", "whatsapp",
          "tools")


async def all_checks(ctx: DoctorContext) -> list[Check]:
    """The static checks plus one per provider when the config loads."""

    checks = list(STATIC)
    try:
        config = await asyncio.wait_for(in_thread(ctx.load_config), ctx.timeout)
    except ConfigError:
        return checks  # config.valid reports why
    except asyncio.TimeoutError:
        stuck = ConfigError(f"reading {ctx.paths.config_file} did not finish within "
                            f"{ctx.timeout:g} s", hint="the file system that holds it may be "
                            "hung (a network mount?)")
        ctx.give_up("document", stuck)
        ctx.give_up("config", stuck)
        return checks
    at = next(i for i, c in enumerate(checks) if c.id == "providers.tls")
    checks[at:at] = provider_checks.provider_checks(config)
    checks += mcp_checks(config)
    return checks


def is_known_selector(selector: str) -> bool:
    """An id, a group name, or providers.NAME (valid even when the config does not load)."""
    return (selector in GROUPS or any(c.id == selector for c in STATIC)
            or selector.startswith(("providers.", "tools.")))


def selected(check_id: str, selectors: list[str]) -> bool:
    return any(check_id == s or check_id.startswith(s + ".") for s in selectors)
