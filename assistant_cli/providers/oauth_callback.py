"""The authorization code grant with PKCE, answered on a loopback callback URL.

`providers login` opens the authorization page in a browser; the authorization server
sends the browser back to `http://127.0.0.1:PORT/callback?code=...&state=...`, where a
short-lived server on this machine (RFC 8252 §7.3) takes the code, checks the state and
exchanges the code, with the PKCE verifier, for tokens.

aiohttp is imported inside functions: only a browser sign-in starts the callback server.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from assistant_cli.errors import ProviderError
from assistant_cli.providers.oauth import OAuthClient, login_hint, pkce_pair
from assistant_cli.providers.oauth_tokens import TokenSet

if TYPE_CHECKING:
    from aiohttp import web

PAGE = ("<!doctype html><meta charset='utf-8'><title>assistant-cli</title>"
        "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p>")


def authorize_url(client: OAuthClient, redirect_uri: str, state: str, challenge: str) -> str:
    """The authorization page address with every parameter RFC 6749 §4.1.1 and PKCE need."""
    assert client.auth.authorize_url
    params = {"response_type": "code", "client_id": client.auth.client_id or "",
              "redirect_uri": redirect_uri, "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    if client.auth.scopes:
        params["scope"] = " ".join(client.auth.scopes)
    sep = "&" if "?" in client.auth.authorize_url else "?"
    return f"{client.auth.authorize_url}{sep}{urlencode(params)}"


class _Callback:
    """The one request the authorization server sends the browser back with."""

    def __init__(self, name: str, state: str) -> None:
        self.name = name
        self.state = state
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def fail(self, message: str, hint: str | None = None) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(ProviderError(
                f"{self.name}: {message}", kind="auth", provider=self.name,
                hint=hint or login_hint(self.name)))

    async def handle(self, request: web.Request) -> web.Response:
        query = request.query
        if self.outcome.done():
            return _page("Already handled", "This sign-in is finished; you can close this tab.")
        if not secrets.compare_digest(query.get("state", ""), self.state):
            self.fail("the OAuth callback's state does not match the one this login sent "
                      "(an old browser tab, or a forged request); nothing was stored",
                      hint=f"run `assistant-cli providers login {self.name}` again and finish "
                      "it in the tab it opens")
            return _page("Sign-in refused", "The state parameter did not match. Return to "
                         "the terminal and run the login again.", status=400)
        if "error" in query:
            said = query["error"] + (f": {query['error_description']}"
                                     if query.get("error_description") else "")
            self.fail(f"the authorization server refused the sign-in ({said})")
            return _page("Sign-in refused", f"The authorization server said: {said}.",
                         status=400)
        code = query.get("code")
        if not code:
            self.fail("the OAuth callback carried no code")
            return _page("Sign-in failed", "No authorization code arrived.", status=400)
        self.outcome.set_result(code)
        return _page("Signed in", "You can close this tab and return to the terminal.")


async def authorization_code_login(
    client: OAuthClient, open_browser: Callable[[str], Any], *, timeout: float = 300.0,
) -> TokenSet:
    """Run the whole grant; `open_browser(url)` must return without waiting for the page."""
    from aiohttp import web

    verifier, challenge = pkce_pair()
    name = client.name
    callback = _Callback(name, secrets.token_urlsafe(24))
    app = web.Application()
    app.router.add_get("/callback", callback.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        redirect_uri = await _listen(runner, name, client.auth.redirect_port)
        open_browser(authorize_url(client, redirect_uri, callback.state, challenge))
        try:
            code = await asyncio.wait_for(callback.outcome, timeout)
        except asyncio.TimeoutError:
            raise ProviderError(
                f"{name}: no answer from the browser within {timeout:.0f} s", kind="auth",
                provider=name, hint=f"run `assistant-cli providers login {name}` again; on a "
                "machine without a browser set auth.flow: device_code") from None
    finally:
        await runner.cleanup()
    return await client.exchange_code(code, verifier, redirect_uri)


async def _listen(runner: web.AppRunner, name: str, port: int) -> str:
    """Start the callback server on loopback; its redirect URI."""
    from aiohttp import web

    site = web.TCPSite(runner, "127.0.0.1", port)
    try:
        await site.start()
    except OSError as exc:
        raise ProviderError(
            f"{name}: cannot listen for the OAuth callback on 127.0.0.1:{port} "
            f"({exc.strerror})", kind="auth", provider=name,
            hint=f"free that port, or set providers.{name}.auth.redirect_port to another "
            "port registered with the authorization server (0 = any)") from None
    bound = runner.addresses[0][1]
    return f"http://127.0.0.1:{bound}/callback"


def _page(title: str, text: str, status: int = 200) -> web.Response:
    from aiohttp import web

    return web.Response(text=PAGE.format(title=escape(title), text=escape(text)),
                        status=status, content_type="text/html")
