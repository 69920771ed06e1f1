"""Which secrets config.yaml refers to, which are internal, and how each one is rotated."""

from __future__ import annotations

from typing import Any

from assistant_cli.config.loader import is_reference
from assistant_cli.config.models import SECRET_KEYS, Config

Loc = tuple[str, ...]

# Internal keys that must not be rotated by hand: rotating the audit key would make every
# existing entry unverifiable.
INTERNAL_SECRETS = frozenset({"audit_hmac_key"})


OAUTH_PREFIX = "oauth."  # a provider's OAuth tokens (providers/oauth_tokens.py)


def rotate_command(name: str) -> str:
    """How to rotate a stored secret: OAuth tokens come from signing in again."""
    if name.startswith(OAUTH_PREFIX):
        return f"assistant-cli providers login {name[len(OAUTH_PREFIX):]}"
    return f"assistant-cli secrets rotate {name}"


def references(config: Config, *, used_only: bool) -> list[tuple[Loc, str]]:
    """(config key path, reference) of every `keyring:`/`env:` secret value in the config.

    `used_only` keeps those that `serve` would resolve: enabled platforms, the providers in
    the turn order, an enabled gateway.
    """
    found: list[tuple[Loc, str]] = []

    def walk(value: Any, loc: Loc) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in SECRET_KEYS and isinstance(v, str) and is_reference(v):
                    found.append(((*loc, k), v))
                else:
                    walk(v, (*loc, str(k)))

    walk(config.model_dump(), ())
    if not used_only:
        return found
    order = set(config.provider_order())

    def used(loc: Loc) -> bool:
        if loc[0] == "platforms" and len(loc) > 2:
            section = getattr(config.platforms, loc[1], None)
            return bool(section is not None and getattr(section, "enabled", True))
        if loc[0] == "providers":
            return loc[1] in order
        if loc[0] == "gateway":
            return config.gateway.enabled
        return True

    return [(loc, ref) for loc, ref in found if used(loc)]
