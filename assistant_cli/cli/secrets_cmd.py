"""`assistant-cli secrets`: store, list and delete secrets in the OS keyring."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant_cli.cli.common import cli_state

app = typer.Typer(
    help="Store, list and delete secrets (API keys, bot tokens) in the OS keyring. "
    "Refer to them in config.yaml as keyring:NAME.",
    no_args_is_help=True, rich_markup_mode=None,
)

NameArg = Annotated[str, typer.Argument(help="Secret name, e.g. openai_api_key.")]


@app.command("set")
def set_(ctx: typer.Context, name: NameArg) -> None:
    """Store a secret: typed at a hidden prompt, or read from stdin when piped.

    Example: printf %s "$TOKEN" | assistant-cli secrets set telegram_token
    """
    from assistant_cli.errors import SecretError
    from assistant_cli.secrets import SecretStore, check_name

    check_name(name)
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"value for {name} (input hidden): ")
    else:
        value = sys.stdin.read().rstrip("\r\n")
    if not value:
        raise SecretError(f"no value given for {name!r}",
                          hint="type it at the prompt, or pipe it on stdin")
    store = SecretStore(cli_state(ctx).paths)
    existed = store.get(name) is not None
    store.set(name, value)
    print(f"{'updated' if existed else 'stored'} {name} in {store.backend_name}; "
          f"use it in config.yaml as keyring:{name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stored secrets: name, backend, when set and last rotated, age. Never values."""
    import json
    import time

    from assistant_cli.secrets import SecretStore

    state = cli_state(ctx)
    store = SecretStore(state.paths)
    rotation_days = _rotation_days(state)
    infos = store.list()
    now = time.time()
    if json_out:
        print(json.dumps([{
            "name": i.name, "backend": i.backend, "created_at": i.created_at,
            "rotated_at": i.rotated_at, "age_days": round(i.age_days(now), 1),
            "rotation_due": i.age_days(now) >= rotation_days} for i in infos], indent=2))
        return
    if not infos:
        print("no secrets stored yet; add one with `assistant-cli secrets set NAME`")
        return
    from rich.table import Table

    from assistant_cli.cli.common import console

    table = Table("name", "backend", "set", "rotated", "age", "rotation")
    for i in infos:
        age = i.age_days(now)
        due = "[red]due[/red]" if age >= rotation_days else f"in {rotation_days - age:.0f} d"
        table.add_row(i.name, i.backend, _date(i.created_at), _date(i.rotated_at),
                      f"{age:.0f} d", due)
    console().print(table)


@app.command()
def delete(ctx: typer.Context, name: NameArg) -> None:
    """Delete a secret from the keyring."""
    from assistant_cli.secrets import SecretStore

    if not SecretStore(cli_state(ctx).paths).delete(name):
        print(f"error: no secret named {name!r}; `assistant-cli secrets list` shows them",
              file=sys.stderr)
        raise typer.Exit(1)
    print(f"deleted {name}")


def _date(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d")


def _rotation_days(state: object) -> int:
    """The configured rotation period, or the default when there is no valid config."""
    from assistant_cli.errors import ConfigError

    try:
        return state.load_config().secrets.rotation_days  # type: ignore[attr-defined, no-any-return]
    except ConfigError:
        return 90
