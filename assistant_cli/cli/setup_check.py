"""First-run setup, checking what was typed: the server's models, then one tiny test call.

Both go through the same provider adapter that `serve` will use (kind openai), with the
typed key held in memory only; nothing is written until the user has seen the result.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant_cli.providers.base import Provider

# Enough to pick from at a glance; the model can always be typed by name.
SHOWN_MODELS = 15


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str  # a model list problem or the test call's diagnosis


def _provider(base_url: str, model: str, key: str | None) -> Provider:
    from assistant_cli.config.models import ProviderConfig
    from assistant_cli.providers.openai import OpenAIProvider

    # The reference is never resolved from anywhere: the resolver hands back the typed key.
    cfg = ProviderConfig(kind="openai", base_url=base_url, model=model or "unset",
                         api_key="env:SETUP_KEY" if key else None, timeout=10.0)
    return OpenAIProvider("setup", cfg, lambda ref, key_path: key or "")


def list_models(base_url: str, key: str | None) -> tuple[list[str], str]:
    """(model ids, "") or ([], why the list could not be had)."""
    from assistant_cli.errors import ProviderError

    async def run() -> list[str]:
        provider = _provider(base_url, "", key)
        try:
            return list(await provider.list_models())  # type: ignore[attr-defined]
        finally:
            await provider.aclose()

    try:
        return asyncio.run(run()), ""
    except ProviderError as exc:
        return [], exc.message
    except Exception as exc:  # an unreachable or odd server must not end the setup
        return [], str(exc) or type(exc).__name__


def test_call(base_url: str, model: str, key: str | None) -> Outcome:
    """One tiny completion (the `providers test` probe), with its diagnosis."""
    from assistant_cli.providers.probe import probe

    async def run() -> Outcome:
        provider = _provider(base_url, model, key)
        try:
            report = await probe(provider)
        finally:
            await provider.aclose()
        return Outcome(report.ok, report.diagnosis)

    try:
        return asyncio.run(run())
    except Exception as exc:  # reported to the user, who decides what to do
        return Outcome(False, str(exc) or type(exc).__name__)
