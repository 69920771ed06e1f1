"""Plumbing shared by the `providers` commands: config, secrets, audit and instances."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.config.models import Config, ProviderConfig
    from assistant_cli.paths import Paths
    from assistant_cli.providers.base import Provider
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import AuditLog
    from assistant_cli.store.db import Database

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass
class Session:
    """What a `providers` command works with, opened once per invocation."""

    paths: Paths
    db: Database
    secrets: SecretStore

    def audit(self) -> AuditLog:
        from assistant_cli.store.audit import open_audit

        log = open_audit(self.db, self.secrets)
        _ = log.key  # fail before changing anything if the audit key is out of reach
        return log

    def resolve(self, ref: str, key: str) -> str:
        return self.secrets.resolve(ref, key=key)

    def instance(self, name: str, cfg: ProviderConfig) -> Provider:
        from assistant_cli.plugins import registry

        cls = registry.load(registry.PROVIDERS, cfg.kind, key=f"providers.{name}.kind")
        provider: Provider = cls(name, cfg, self.resolve)
        return provider


def open_session(ctx: typer.Context) -> Session:
    from assistant_cli.secrets.store import SecretStore

    paths = cli_state(ctx).paths
    db = cli_state(ctx).open_db()
    return Session(paths, db, SecretStore(paths, db))


def check_name(name: str) -> str:
    from assistant_cli.errors import UsageError

    if not NAME_RE.match(name):
        raise UsageError(f"invalid provider name {name!r}",
                         hint="use 1-40 letters, digits, '_' or '-', starting with a letter or "
                         "digit (e.g. openai, local-llama)")
    return name


def require(config: Config, name: str) -> ProviderConfig:
    """The named provider's config, or a UsageError listing the ones that exist."""
    from assistant_cli.errors import UsageError

    if name in config.providers:
        return config.providers[name]
    names = list(config.providers)
    close = difflib.get_close_matches(name, names, n=1)
    known = ", ".join(names) or "none yet"
    raise UsageError(
        f"no provider named {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
        + f" (providers: {known})",
        hint="`assistant-cli providers list` shows them; `providers add` adds one")


def known_kinds() -> list[str]:
    from assistant_cli.plugins import registry

    return sorted(registry.available(registry.PROVIDERS))


def role_of(config: Config, name: str) -> str:
    order = config.provider_order()
    if name not in order:
        return "-"
    index = order.index(name)
    return "default" if index == 0 else f"fallback {index}"


def describe_auth(cfg: ProviderConfig) -> str:
    kind = cfg.auth_type
    if kind == "oauth" and cfg.auth is not None:
        return f"oauth ({cfg.auth.flow.replace('_', ' ')})"
    return kind


def run_async(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)
