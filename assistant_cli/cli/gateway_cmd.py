"""`assistant-cli gateway`: tokens for the dashboard and other gateway clients."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant_cli.cli.common import cli_state

app = typer.Typer(
    help="Tokens for the gateway's WebSocket (the dashboard and other clients).",
    no_args_is_help=True, rich_markup_mode=None,
)


@app.command()
def token(
    ctx: typer.Context,
    ttl: Annotated[str, typer.Option(
        "--ttl", help="How long the token stays valid: 30m, 1h, 7d ...")] = "1h",
    sub: Annotated[str | None, typer.Option(
        "--sub", help="Who the token is for; gateway actions are audited as token:SUB "
        "(default: your user name).")] = None,
    url: Annotated[bool, typer.Option(
        "--url", help="Print the whole dashboard URL (http://HOST:PORT/?token=...) instead "
        "of the bare token.")] = False,
) -> None:
    """Mint a signed access token for the gateway of this machine's `serve`.

    Example: assistant-cli dashboard "$(assistant-cli gateway token --ttl 8h --url)"
    """
    from assistant_cli.errors import UsageError
    from assistant_cli.gateway.control import owner_subject
    from assistant_cli.gateway.local import local_base_url, local_keys, parse_duration
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit

    seconds = parse_duration(ttl)
    subject = (sub or owner_subject()).strip()
    if not subject or len(subject) > 64:
        raise UsageError(f"--sub {sub!r} must be 1-64 characters", hint="e.g. --sub laptop")
    state = cli_state(ctx)
    config = state.load_config().gateway
    keys = local_keys(state.paths, config)
    minted = keys.mint(subject, seconds)
    db = state.open_db()
    open_audit(db, SecretStore(state.paths, db)).append(
        "gateway.token", subject, "ok", kid=keys.current.kid, ttl_s=seconds)
    if url:
        print(f"{local_base_url(state.paths, config)}/?token={minted}")
    else:
        print(minted)
