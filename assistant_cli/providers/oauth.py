"""OAuth 2.0 grants: authorization code with PKCE, device authorization, client credentials,
and refresh — plus `OAuthSession`, which keeps a provider's access token fresh at run time.

Token requests are form posts to `token_url` (RFC 6749 §4, RFC 8628 for devices); a
client secret, when configured, goes in the form body (client_secret_post).

httpx is imported inside functions: a provider without OAuth never posts a form here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from assistant_cli.errors import ProviderError
from assistant_cli.providers.oauth_tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    import httpx

    from assistant_cli.config.models import AuthConfig

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_SKEW = 60.0  # refresh this long before expiry, so a request never carries a dying token

Sleep = Callable[[float], Awaitable[None]]


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 §4.1-4.2 define them."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def login_hint(name: str) -> str:
    return f"run `assistant-cli providers login {name}`"


class OAuthClient:
    """Talks to one provider's authorization server."""

    def __init__(self, name: str, auth: AuthConfig, resolve_secret: Callable[[str, str], str],
                 *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport` replaces httpx's network layer (tests: `httpx.MockTransport`)."""
        self.name = name
        self.transport = transport
        self.auth = auth
        self.resolve_secret = resolve_secret
        self.timeout = timeout

    def _client_fields(self) -> dict[str, str]:
        fields = {"client_id": self.auth.client_id or ""}
        if self.auth.client_secret:
            fields["client_secret"] = self.resolve_secret(
                self.auth.client_secret, f"providers.{self.name}.auth.client_secret")
        return fields

    def _error(self, message: str, hint: str | None = None) -> ProviderError:
        return ProviderError(f"{self.name}: {message}", kind="auth", provider=self.name,
                             hint=hint or login_hint(self.name))

    async def post_form(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST a form; (status, JSON body or {}). Network failures become ProviderErrors."""
        import httpx

        from assistant_cli.providers.errors import network_error

        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(url, data=form,
                                             headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise network_error(self.name, url, exc) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    async def token_request(self, form: dict[str, str], *,
                            previous: TokenSet | None = None) -> TokenSet:
        """Call the token endpoint; an OAuth error answer raises a ProviderError(kind=auth)."""
        assert self.auth.token_url
        status, body = await self.post_form(self.auth.token_url, {**form, **self._client_fields()})
        if status >= 400 or "error" in body:
            raise self.token_error(status, body)
        try:
            return TokenSet.from_response(body, previous=previous)
        except ValueError:
            raise self._error(f"the token endpoint answered HTTP {status} without an "
                              "access_token") from None

    def token_error(self, status: int, body: dict[str, Any]) -> ProviderError:
        code = str(body.get("error") or f"HTTP {status}")
        detail = body.get("error_description")
        said = f"{code}: {detail}" if detail else code
        if code == "invalid_grant":
            return self._error(f"the sign-in has expired or was revoked ({said})")
        if code in ("invalid_client", "unauthorized_client"):
            return self._error(f"the authorization server rejected the client ({said})",
                               hint=f"check providers.{self.name}.auth.client_id and "
                               "client_secret")
        if status >= 500:
            return ProviderError(f"{self.name}: the authorization server failed ({said})",
                                 kind="overload", status=status, provider=self.name)
        return self._error(f"the authorization server refused the request ({said})")

    # -- grants ----------------------------------------------------------------------
    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        return await self.token_request({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier})

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        if not tokens.refresh_token:
            raise self._error("the access token expired and there is no refresh token")
        return await self.token_request(
            {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            previous=tokens)

    async def client_credentials(self) -> TokenSet:
        form = {"grant_type": "client_credentials"}
        if self.auth.scopes:
            form["scope"] = " ".join(self.auth.scopes)
        return await self.token_request(form)

    async def device_login(self, show: Callable[[str, str, str | None], None], *,
                           sleep: Sleep = asyncio.sleep,
                           clock: Callable[[], float] = time.monotonic) -> TokenSet:
        """RFC 8628: get a user code, show it, poll until the person approves or it expires.

        `show(user_code, verification_uri, verification_uri_complete)` tells the person.
        """
        assert self.auth.device_authorization_url
        form = dict(self._client_fields())
        if self.auth.scopes:
            form["scope"] = " ".join(self.auth.scopes)
        status, body = await self.post_form(self.auth.device_authorization_url, form)
        if status >= 400 or "device_code" not in body:
            raise self.token_error(status, body)
        device_code = str(body["device_code"])
        uri = str(body.get("verification_uri") or body.get("verification_url") or "")
        show(str(body.get("user_code", "")), uri, body.get("verification_uri_complete"))
        interval = float(body.get("interval") or 5)
        deadline = clock() + float(body.get("expires_in") or 600)
        while True:
            await sleep(interval)
            if clock() > deadline:
                raise self._error("the device code expired before sign-in finished",
                                  hint=f"run `assistant-cli providers login {self.name}` "
                                  "again and enter the code sooner")
            assert self.auth.token_url
            status, body = await self.post_form(self.auth.token_url, {
                "grant_type": DEVICE_GRANT, "device_code": device_code,
                **self._client_fields()})
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5  # RFC 8628 §3.5: every slow_down adds five seconds, for good
                continue
            if error == "expired_token":
                raise self._error("the device code expired before sign-in finished",
                                  hint=f"run `assistant-cli providers login {self.name}` again")
            if error == "access_denied":
                raise self._error("sign-in was refused on the authorization page",
                                  hint=f"run `assistant-cli providers login {self.name}` again "
                                  "and approve the request")
            if status >= 400 or error:
                raise self.token_error(status, body)
            return TokenSet.from_response(body)


class OAuthSession:
    """A provider's access token at run time: loaded from the store, refreshed before it
    expires and once after a 401, saved back after every refresh."""

    def __init__(self, client: OAuthClient, store: TokenStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self._tokens: TokenSet | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.client.name

    async def access_token(self) -> str:
        async with self._lock:
            tokens = self._tokens or self.store.load(self.name)
            if tokens is None or tokens.expires_within(REFRESH_SKEW, self.clock()):
                tokens = await self._renew(tokens)
            self._tokens = tokens
            return tokens.access_token

    async def refresh_after_401(self, rejected: str) -> bool:
        """The service refused `rejected`; get another token. False when none can be had."""
        async with self._lock:
            stored = self.store.load(self.name)
            if stored is not None and stored.access_token != rejected:
                self._tokens = stored  # someone (e.g. `providers login`) stored a newer one
                return True
            self._tokens = await self._renew(stored)
            return self._tokens.access_token != rejected

    async def _renew(self, tokens: TokenSet | None) -> TokenSet:
        if self.client.auth.flow == "client_credentials":
            fresh = await self.client.client_credentials()
        elif tokens is None:
            raise ProviderError(f"{self.name}: not signed in (no OAuth tokens in the keyring)",
                                kind="auth", provider=self.name, hint=login_hint(self.name))
        else:
            fresh = await self.client.refresh(tokens)
        self.store.save(self.name, fresh)
        return fresh
