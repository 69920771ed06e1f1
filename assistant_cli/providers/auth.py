"""How adapters authenticate, whatever the transport: one object per provider.

    auth = ProviderAuth(name, config, resolve_secret)
    headers = await auth.headers()                        # API key or OAuth bearer token
    headers = await auth.headers(key_header="x-api-key", key_prefix="")   # Anthropic style
    httpx.AsyncClient(verify=auth.httpx_verify())         # CA bundle + client cert (mTLS)
    websockets/aiohttp: ssl=auth.ssl_context()            # None = library default
    gRPC: grpc.ssl_channel_credentials(*auth.tls_bytes()) # (CA bundle, key, chain)
    on HTTP 401: if await auth.refresh_after_401(): retry once
    on a refusal (401/403): raise auth.refused(classify_http_error(...))
    on a connection failure: raise auth.annotate(network_error(...))

API keys are sent in the header the adapter names; OAuth tokens always as
`Authorization: Bearer ...`; mutual TLS adds nothing to headers but shapes the TLS context.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from assistant_cli.errors import ProviderError, UsageError
from assistant_cli.providers.mtls import TlsFiles
from assistant_cli.providers.mtls import ssl_context as build_ssl_context
from assistant_cli.providers.oauth import OAuthClient, OAuthSession
from assistant_cli.providers.oauth_tokens import KeyringTokenStore

if TYPE_CHECKING:
    from assistant_cli.config.models import ProviderConfig
    from assistant_cli.providers.base import SecretResolver
    from assistant_cli.providers.oauth_tokens import TokenStore


class ProviderAuth:
    """Credentials and TLS settings for one configured provider."""

    def __init__(self, name: str, config: ProviderConfig, resolve_secret: SecretResolver,
                 *, tokens: TokenStore | None = None) -> None:
        self.name = name
        self.config = config
        self.resolve_secret = resolve_secret
        self.tls = TlsFiles.of(config)
        self._tokens = tokens
        self._session: OAuthSession | None = None
        self._ssl: ssl.SSLContext | None = None
        self._last_token: str | None = None

    @property
    def type(self) -> str:
        """none, api-key, oauth or mtls."""
        return self.config.auth_type

    @property
    def oauth(self) -> OAuthSession:
        if self._session is None:
            assert self.config.auth is not None
            client = OAuthClient(self.name, self.config.auth, self.resolve_secret,
                                 timeout=min(30.0, self.config.timeout))
            self._session = OAuthSession(client, self._tokens or KeyringTokenStore())
        return self._session

    async def headers(self, *, key_header: str = "Authorization",
                      key_prefix: str = "Bearer ") -> dict[str, str]:
        """Headers that prove who we are; may refresh an OAuth token first."""
        if self.type == "oauth":
            token = await self.oauth.access_token()
            self._last_token = token
            return {"Authorization": f"Bearer {token}"}
        if self.config.api_key:
            key = self.resolve_secret(self.config.api_key, f"providers.{self.name}.api_key")
            return {key_header: f"{key_prefix}{key}"}
        return {}

    async def refresh_after_401(self) -> bool:
        """After a 401: True when a new token was obtained and one retry makes sense."""
        if self.type != "oauth" or self._last_token is None:
            return False
        return await self.oauth.refresh_after_401(self._last_token)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this provider, or None when system defaults apply."""
        if not self.tls.custom:
            return None
        if self._ssl is None:
            try:
                self._ssl = build_ssl_context(self.tls)
            except UsageError as exc:
                raise self._unusable(exc) from None
        return self._ssl

    def tls_bytes(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(CA bundle, private key, certificate chain) as gRPC's channel credentials want."""
        try:
            return self.tls.read_bytes()
        except UsageError as exc:
            raise self._unusable(exc) from None

    def _unusable(self, exc: UsageError) -> ProviderError:
        # A ProviderError, so that the router fails over and `providers test` reports it.
        return ProviderError(f"{self.name}: {exc.message}", kind="auth", provider=self.name,
                             hint=exc.hint)

    def httpx_verify(self) -> ssl.SSLContext | bool:
        """What to pass as httpx's `verify`: our context, or True for the defaults."""
        return self.ssl_context() or True

    def annotate(self, error: ProviderError) -> ProviderError:
        """Add what mutual TLS makes likely to a connection failure: servers often drop a
        connection whose client certificate they refuse, without saying why."""
        if error.kind == "network" and self.tls.client_auth and "timed out" not in error.message:
            error.hint = (f"{error.hint}; or the server refused the client certificate: check "
                          f"that it trusts the CA that issued providers.{self.name}.cert_file")
        return error

    def refused(self, error: ProviderError, said: str | None = None) -> ProviderError:
        """Reword a refusal of our credentials (kind auth) for OAuth, mutual TLS or none,
        whose fix is not a new API key; `said` is the service's status (default: HTTP n).
        A refused API key keeps its message and gets the secret to replace as its hint."""
        if error.kind != "auth":
            return error
        if self.type == "api-key":
            error.hint = self.rejected_hint()
            return error
        what = {"oauth": "the access token", "mtls": "the client certificate"}.get(
            self.type, "the request (the service wants credentials)")
        said = said or (f"HTTP {error.status}" if error.status else None)
        error.message = f"{self.name}: {what} was refused" + (f" ({said})" if said else "")
        error.args = (error.message,)
        error.hint = self.rejected_hint()
        return error

    def rejected_hint(self) -> str:
        """What to do when the service refuses our credentials."""
        if self.type == "oauth":
            return f"sign in again with `assistant-cli providers login {self.name}`"
        if self.type == "mtls":
            return (f"check that the service trusts the certificate in "
                    f"providers.{self.name}.cert_file and that it has not been revoked")
        ref = self.config.api_key or ""
        if ref.startswith("keyring:"):
            secret = ref[len("keyring:"):]
            return (f"store a valid key with `assistant-cli secrets rotate {secret}` (tried "
                    f"before it replaces the old one) or `assistant-cli secrets set {secret}`")
        if ref.startswith("env:"):
            return (f"set the environment variable {ref[len('env:'):]} (providers.{self.name}"
                    ".api_key) to a valid key")
        secret = f"{self.name}_api_key"
        return (f"store a valid key with `assistant-cli secrets set {secret}` and set "
                f"providers.{self.name}.api_key to keyring:{secret}")
