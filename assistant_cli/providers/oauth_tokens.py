"""OAuth 2.0 token sets and where they are kept: one JSON secret per provider in the keyring."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from assistant_cli.errors import ProviderError
from assistant_cli.observability.logs import register_secret
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint granted; `expires_at` is a Unix time, None when unknown."""

    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, body: dict[str, Any], *, now: float | None = None,
                      previous: TokenSet | None = None) -> TokenSet:
        """Build from a token endpoint's JSON (RFC 6749 §5.1), keeping the old refresh
        token when a refresh answer carries none (the server did not rotate it)."""
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ValueError("no access_token in the answer")
        expires_in = body.get("expires_in")
        expires_at = None
        if isinstance(expires_in, (int, float, str)) and str(expires_in).strip():
            expires_at = (now if now is not None else time.time()) + float(expires_in)
        refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
        return cls(token, str(body.get("token_type") or "Bearer"), refresh, expires_at,
                   body.get("scope") if isinstance(body.get("scope"), str) else None)

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - (now if now is not None else time.time()) <= seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        return cls(**{k: data.get(k) for k in ("access_token", "token_type", "refresh_token",
                                               "expires_at", "scope")})


class TokenStore(Protocol):
    """Persistence for token sets, by provider name."""

    def load(self, provider: str) -> TokenSet | None: ...

    def save(self, provider: str, tokens: TokenSet) -> None: ...

    def delete(self, provider: str) -> bool: ...


def secret_name(provider: str) -> str:
    """The keyring entry holding a provider's tokens."""
    return "oauth." + re.sub(r"[^A-Za-z0-9_.-]", "_", provider)[:58]


class KeyringTokenStore:
    """Token sets as JSON secrets in the keyring (never in config.yaml or the logs)."""

    def __init__(self, secrets: SecretStore | None = None) -> None:
        self._secrets = secrets

    @property
    def secrets(self) -> SecretStore:
        if self._secrets is None:
            self._secrets = SecretStore(resolve())
        return self._secrets

    def load(self, provider: str) -> TokenSet | None:
        raw = self.secrets.get(secret_name(provider))
        if not raw:
            return None
        try:
            tokens = TokenSet.from_json(raw)
        except (ValueError, TypeError):
            raise ProviderError(
                f"{provider}: the stored OAuth tokens are unreadable", kind="auth",
                provider=provider, hint=f"run `assistant-cli providers login {provider}`",
            ) from None

        register_secret(tokens.access_token)
        if tokens.refresh_token:
            register_secret(tokens.refresh_token)
        return tokens

    def save(self, provider: str, tokens: TokenSet) -> None:
        register_secret(tokens.access_token)
        if tokens.refresh_token:
            register_secret(tokens.refresh_token)
        self.secrets.set(secret_name(provider), tokens.to_json())

    def delete(self, provider: str) -> bool:
        return self.secrets.delete(secret_name(provider))


class MemoryTokenStore:
    """Token sets in a dict: for tests and one-off probes."""

    def __init__(self) -> None:
        self.tokens: dict[str, TokenSet] = {}

    def load(self, provider: str) -> TokenSet | None:
        return self.tokens.get(provider)

    def save(self, provider: str, tokens: TokenSet) -> None:
        self.tokens[provider] = tokens

    def delete(self, provider: str) -> bool:
        return self.tokens.pop(provider, None) is not None
