"""`assistant-cli providers login` / `logout`: OAuth 2.0 sign-in, tokens kept in the keyring."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from assistant_cli.cli.common import cli_state
from assistant_cli.cli.providers_support import open_session, require, run_async

if TYPE_CHECKING:
    from assistant_cli.config.models import ProviderConfig
    from assistant_cli.providers.oauth import OAuthClient
    from assistant_cli.providers.oauth_tokens import TokenSet

NameArg = Annotated[str, typer.Argument(help="The provider's name in config.yaml.")]


def _oauth_only(name: str, cfg: ProviderConfig) -> None:
    from assistant_cli.errors import UsageError

    if cfg.auth_type != "oauth":
        raise UsageError(f"provider {name!r} does not use OAuth (auth: {cfg.auth_type})",
                         hint="login is for providers with `auth: {type: oauth, ...}`; add one "
                         "with `assistant-cli providers add NAME --auth oauth ...`")


def _open_browser(url: str, use_browser: bool) -> None:
    print(f"Open this address to sign in:\n  {url}", file=sys.stderr, flush=True)
    if use_browser:
        import contextlib
        import webbrowser

        # No usable browser is fine: the printed address is enough.
        with contextlib.suppress(Exception):
            webbrowser.open(url, new=2)
    print("Waiting for the browser to come back to this machine ...", file=sys.stderr,
          flush=True)


def _show_code(user_code: str, uri: str, complete: str | None) -> None:
    print(f"On any device, open {uri}\nand enter the code:  {user_code}", file=sys.stderr,
          flush=True)
    if complete:
        print(f"(or open {complete} directly)", file=sys.stderr, flush=True)
    print("Waiting for you to approve ...", file=sys.stderr, flush=True)


async def _sign_in(client: OAuthClient, use_browser: bool, timeout: float) -> TokenSet:
    flow = client.auth.flow
    if flow == "authorization_code":
        from assistant_cli.providers.oauth_callback import authorization_code_login

        return await authorization_code_login(
            client, lambda url: _open_browser(url, use_browser), timeout=timeout)
    if flow == "device_code":
        return await client.device_login(_show_code)
    return await client.client_credentials()


def login(
    ctx: typer.Context,
    name: NameArg,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Only print the sign-in address; don't open a browser.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds to wait for the browser callback.")] = 300.0,
) -> None:
    """Sign in to an OAuth provider and keep its tokens in the keyring.

    authorization_code opens the sign-in page and receives the answer on
    http://127.0.0.1:PORT/callback (PKCE, state checked); device_code shows a code to enter
    on another device; client_credentials gets a token with the client secret.
    """
    import datetime as dt

    from assistant_cli.errors import ProviderError
    from assistant_cli.providers.oauth import OAuthClient
    from assistant_cli.providers.oauth_tokens import KeyringTokenStore

    config = cli_state(ctx).load_config()
    cfg = require(config, name)
    _oauth_only(name, cfg)
    assert cfg.auth is not None
    session = open_session(ctx)
    audit = session.audit()
    client = OAuthClient(name, cfg.auth, session.resolve)
    try:
        tokens: TokenSet = run_async(_sign_in(client, not no_browser, timeout))
    except ProviderError as exc:
        audit.append("providers.login", name, "failed", flow=cfg.auth.flow, reason=exc.message)
        raise
    KeyringTokenStore(session.secrets).save(name, tokens)
    audit.append("providers.login", name, "ok", flow=cfg.auth.flow,
                 refresh_token=tokens.refresh_token is not None)
    until = ""
    if tokens.expires_at:
        until = (" until " + dt.datetime.fromtimestamp(tokens.expires_at)
                 .strftime("%Y-%m-%d %H:%M") + (", renewed automatically"
                                                if tokens.refresh_token else ""))
    print(f"signed in to {name}; access token valid{until or ' (no expiry given)'}")


def logout(ctx: typer.Context, name: NameArg) -> None:
    """Forget a provider's OAuth tokens (the keyring entry is deleted)."""
    from assistant_cli.providers.oauth_tokens import KeyringTokenStore

    config = cli_state(ctx).load_config()
    cfg = require(config, name)
    _oauth_only(name, cfg)
    session = open_session(ctx)
    audit = session.audit()
    existed = KeyringTokenStore(session.secrets).delete(name)
    audit.append("providers.logout", name, "ok" if existed else "not-signed-in")
    print(f"signed out of {name}" if existed else f"{name} was not signed in; nothing to do")
