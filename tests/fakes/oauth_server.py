"""Loopback fake of an OAuth 2.0 authorization server (RFC 6749, 7636, 8628), in a thread.

Endpoints: GET /authorize (redirects the browser to the client's loopback callback with
code and state), POST /token (authorization_code with PKCE S256 checked, refresh_token,
client_credentials, device_code), POST /device (device authorization). Refresh tokens can
be revoked; device polling answers follow a script (`authorization_pending`,
`slow_down`, `access_denied`, `expired_token`) before granting.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from tests.fakes.loop_thread import AiohttpFake
from tests.fakes.openai_server import FakeOpenAI, openai_error


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    scope: str


@dataclass
class Issued:
    """What the token endpoint handed out, for assertions."""

    access: dict[str, float] = field(default_factory=dict)  # token -> expires_at
    refresh: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)


class FakeOAuthServer(AiohttpFake[Any, Any]):
    """An authorization server on 127.0.0.1 with one registered client."""

    def __init__(self, *, client_id: str = "assistant-cli", client_secret: str = "s3cret-cs",
                 expires_in: int = 3600, issue_refresh: bool = True) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.issue_refresh = issue_refresh
        self.tamper_state = False  # send the browser back with a different state
        self.deny = False  # the person clicks "deny" on the authorization page
        self.device_script: collections.deque[str] = collections.deque()
        self.device_interval = 5
        self.grants: dict[str, Grant] = {}
        self.issued = Issued()
        self.token_requests: list[dict[str, str]] = []
        self.authorize_requests: list[dict[str, str]] = []
        self._devices: dict[str, str] = {}
        self._lock = threading.Lock()

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/device", self._device)

    # -- helpers for tests ------------------------------------------------------------
    def is_valid(self, token: str) -> bool:
        with self._lock:
            expires = self.issued.access.get(token)
        return expires is not None and expires > time.time() and token not in self.issued.revoked

    def revoke_all(self) -> None:
        """Revoke every access and refresh token handed out so far."""
        with self._lock:
            self.issued.revoked |= set(self.issued.access) | self.issued.refresh

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.issued.access:
                self.issued.access[token] = 0.0

    def grant_types(self) -> list[str]:
        return [r.get("grant_type", "") for r in self.token_requests]

    # -- endpoints ------------------------------------------------------------------
    async def _authorize(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.authorize_requests.append(q)
        redirect = q.get("redirect_uri", "")
        parts = urlsplit(redirect)
        if q.get("client_id") != self.client_id or parts.hostname != "127.0.0.1" \
                or parts.path != "/callback":
            return web.Response(status=400, text="unknown client or redirect_uri")
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE S256 required")
        state = q.get("state", "")
        if self.tamper_state:
            state = "forged-" + state
        if self.deny:
            params = {"error": "access_denied", "error_description": "the user said no",
                      "state": state}
        else:
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(self.client_id, redirect, q["code_challenge"], "S256",
                                      q.get("scope", ""))
            params = {"code": code, "state": state}
        raise web.HTTPFound(f"{redirect}?{urlencode(params)}")

    def _tokens(self, *, refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(16)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                "expires_in": self.expires_in}
        with self._lock:
            self.issued.access[access] = time.time() + self.expires_in
            if refresh and self.issue_refresh:
                body["refresh_token"] = "rt-" + secrets.token_urlsafe(16)
                self.issued.refresh.add(body["refresh_token"])
        return body

    @staticmethod
    def _error(code: str, description: str = "", status: int = 400) -> web.Response:
        return web.json_response({"error": code, "error_description": description},
                                 status=status)

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if form.get("client_id") != self.client_id:
            return self._error("invalid_client", "unknown client", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self.grants.pop(form.get("code", ""), None)
            if found is None or found.redirect_uri != form.get("redirect_uri"):
                return self._error("invalid_grant", "unknown code or redirect_uri mismatch")
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != found.challenge:
                return self._error("invalid_grant", "PKCE verification failed")
            return web.json_response(self._tokens(refresh=True))
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in self.issued.refresh or token in self.issued.revoked:
                return self._error("invalid_grant", "refresh token revoked or unknown")
            return web.json_response(self._tokens(refresh=False))
        if grant == "client_credentials":
            if form.get("client_secret") != self.client_secret:
                return self._error("invalid_client", "bad client secret", 401)
            return web.json_response(self._tokens(refresh=False))
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if form.get("device_code") not in self._devices:
                return self._error("invalid_grant", "unknown device code")
            if self.device_script:
                return self._error(self.device_script.popleft())
            return web.json_response(self._tokens(refresh=True))
        return self._error("unsupported_grant_type", str(grant))

    async def _device(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("client_id") != self.client_id:
            return self._error("invalid_client", "unknown client", 401)
        device_code = secrets.token_urlsafe(16)
        user_code = "WDJB-MJHT"
        self._devices[device_code] = user_code
        return web.json_response({
            "device_code": device_code, "user_code": user_code,
            "verification_uri": f"{self.url}/device-login",
            "verification_uri_complete": f"{self.url}/device-login?user_code={user_code}",
            "expires_in": 600, "interval": self.device_interval})


class OAuthProtectedOpenAI(FakeOpenAI):
    """The fake model server, accepting exactly the access tokens `oauth` considers valid."""

    def __init__(self, oauth: FakeOAuthServer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oauth = oauth

    def _auth_error(self, request: web.Request) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.oauth.is_valid(token.strip()):
            return None
        return self._json(openai_error("invalid or expired access token",
                                       "invalid_request_error", "invalid_api_key"), status=401)
