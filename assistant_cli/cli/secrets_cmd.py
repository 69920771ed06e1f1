"""`assistant-cli secrets`: store, list and delete secrets in the OS keyring."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

app = typer.Typer(
    help="Store, list and delete secrets (API keys, bot tokens) in the OS keyring. "
    "Refer to them in config.yaml as keyring:NAME.",
    no_args_is_help=True, rich_markup_mode=None,
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Secret name, e.g. openai_api_key.")]


@app.command("set")
def set_(ctx: typer.Context, name: NameArg) -> None:
    """Store a secret: typed at a hidden prompt, or read from stdin when piped.

    Example: printf %s "$TOKEN" | assistant-cli secrets set telegram_token
    """
    from assistant_cli.errors import SecretError
    from assistant_cli.secrets.store import SecretStore, check_name

    check_name(name)
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"value for {name} (input hidden): ")
    else:
        value = sys.stdin.read().rstrip("\r\n")
    if not value:
        raise SecretError(f"no value given for {name!r}",
                          hint="type it at the prompt, or pipe it on stdin")
    from assistant_cli.secrets.rotation import record

    store = SecretStore(cli_state(ctx).paths)
    existed = store.get(name) is not None
    store.set(name, value)
    record(store, "secret.set", name, "ok", replaced=existed)
    print(f"{'updated' if existed else 'stored'} {name} in {store.backend_name}; "
          f"use it in config.yaml as keyring:{name}")


@app.command("list")
def list_(ctx: typer.Context, json_out: output.JsonOpt = False) -> None:
    """List stored secrets: name, backend, when set and last rotated, age. Never values.

    Piped, each row is tab-separated: name, backend, set (UTC), rotated (UTC), age in days,
    rotation (due, in N d, or -). Example: assistant-cli secrets list --json
    """
    import time

    from assistant_cli.secrets.store import SecretStore

    state = cli_state(ctx)
    store = SecretStore(state.paths)
    rotation_days = _rotation_days(state)
    infos = store.list()
    now = time.time()
    if json_out:
        output.print_json({"secrets": [{
            "name": i.name, "backend": i.backend, "created_at": output.iso(i.created_at),
            "rotated_at": output.iso(i.rotated_at), "age_days": round(i.age_days(now), 1),
            "rotation_due": _due(i.name, i.age_days(now), rotation_days)} for i in infos]})
        return
    if not infos:
        output.say_empty("no secrets stored yet; add one with `assistant-cli secrets set NAME`")
        return
    tty = output.stdout_is_tty()
    table = output.Table(("name", "backend", "set", "rotated", "age", "rotation"))
    for i in infos:
        age = i.age_days(now)
        due = output.Cell("due", "red") if _due(i.name, age, rotation_days) else (
            f"in {rotation_days - age:.0f} d" if _rotatable(i.name) else "-")
        set_, rotated = ((_date(i.created_at), _date(i.rotated_at)) if tty else
                         (output.iso(i.created_at) or "", output.iso(i.rotated_at) or ""))
        table.add(i.name, i.backend, set_, rotated, f"{age:.0f} d", due)
    output.print_table(table)


@app.command()
def delete(ctx: typer.Context, name: NameArg) -> None:
    """Delete a secret from the keyring."""
    from assistant_cli.secrets.rotation import record
    from assistant_cli.secrets.store import SecretStore

    store = SecretStore(cli_state(ctx).paths)
    deleted = store.delete(name)
    record(store, "secret.delete", name, "ok" if deleted else "not-found")
    if not deleted:
        print(f"error: no secret named {name!r}; `assistant-cli secrets list` shows them",
              file=sys.stderr)
        raise typer.Exit(1)
    print(f"deleted {name}")


@app.command()
def rotate(
    ctx: typer.Context,
    name: NameArg,
    no_test: Annotated[bool, typer.Option(
        "--no-test", help="Replace the value without testing it first.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.1,
        help="How long each test of the new value may take.")] = 10.0,
) -> None:
    """Replace a secret with a new value, tested before the old one is given up.

    The new value is typed at a hidden prompt (twice) or read from stdin when piped. Where
    config.yaml uses the secret decides the test: a provider key gets one cheap model call,
    a Telegram token getMe, a WhatsApp token the phone number lookup. If the service
    rejects the new value, or cannot be reached, the old value is kept (exit 1).

    The gateway's JWT secret (gateway_jwt_secret) needs no value: a new signing key with a
    new key id is generated and the previous one keeps verifying tokens for
    gateway.rotation_grace seconds.

    Example: printf %s "$NEW_KEY" | assistant-cli secrets rotate openai_api_key
    """
    from assistant_cli.doctor.base import quiet_logging
    from assistant_cli.doctor.new_value import new_value_tester
    from assistant_cli.errors import ConfigError, SecretError
    from assistant_cli.gateway.tokens import rotate_jwt_secret
    from assistant_cli.secrets.rotation import (
        check_rotatable,
        is_gateway_secret,
        rotate_credential,
        rotate_gateway_secret,
    )
    from assistant_cli.secrets.store import SecretStore

    state = cli_state(ctx)
    quiet_logging(state.debug)
    store = SecretStore(state.paths)
    config, problem = None, ""
    try:
        config = state.load_config()
    except ConfigError as exc:
        problem = exc.message.splitlines()[0]
    check_rotatable(store, name, config)
    if is_gateway_secret(config, name):
        done = rotate_gateway_secret(store, name, config, rotate_jwt_secret)
        print(f"rotated {name}: new signing key {done.kid}")
    else:
        if sys.stdin.isatty():
            import getpass

            value = getpass.getpass(f"new value for {name} (input hidden): ")
            if value and getpass.getpass("again, to confirm: ") != value:
                raise SecretError("the two values differ; nothing was changed",
                                  hint="run the command again")
        else:
            value = sys.stdin.read().rstrip("\r\n")
        done = rotate_credential(
            store, name, value, config, config_problem=problem,
            tester=None if no_test else lambda c: new_value_tester(c, store, name, timeout))
        print(f"rotated {name} in {store.backend_name}")
        for line in done.tested:
            print(f"  tested {line}")
    for note in done.notes:
        print(f"  note: {note}")
    print("  restart a running `serve` so that every part of it uses the new value")


def _rotatable(name: str) -> bool:
    """Internal keys (the audit key, rotated-out `_previous` keys) are never due."""
    from assistant_cli.secrets.references import INTERNAL_SECRETS

    return name not in INTERNAL_SECRETS and not name.endswith("_previous")


def _due(name: str, age_days: float, rotation_days: int) -> bool:
    return _rotatable(name) and age_days >= rotation_days


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
