"""`assistant-cli audit`: read and verify the tamper-evident log of admin actions."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

app = typer.Typer(help="Read and verify the audit log of admin actions (pairing, secrets, "
                  "providers, gateway actions).", no_args_is_help=True, rich_markup_mode=None)


def _log(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import AuditLog, key_from_store
    from assistant_cli.store.db import Database

    paths = cli_state(ctx).paths
    db = Database(paths.database)
    return AuditLog(db, key_from_store(SecretStore(paths, db)))


@app.command("list")
def list_(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only entries newer than this: 10m, 2h, 7d or an ISO time "
        "(local if no offset).")] = None,
    json_out: output.JsonOpt = False,
) -> None:
    """List audit entries: time, actor, action, target, outcome.

    Piped, each row is tab-separated: id, time (UTC), actor, action, target, outcome.
    Example: assistant-cli audit list --since 7d | grep 123456789
    """
    import datetime as dt

    from assistant_cli.observability.logview import parse_since

    start = parse_since(since).timestamp() if since else None
    entries = _log(ctx).entries(start)
    if json_out:
        output.print_json({"entries": [
            {"id": e.id, "time": output.iso(e.ts), "actor": e.actor, "action": e.action,
             "target": e.target, "outcome": e.outcome, "detail": e.detail} for e in entries]})
        return
    if not entries:
        output.say_empty("no audit entries")
        return
    tty = output.stdout_is_tty()
    table = output.Table(("#", "time", "actor", "action", "target", "outcome"))
    for e in entries:
        when = (dt.datetime.fromtimestamp(e.ts).strftime("%Y-%m-%d %H:%M:%S") if tty
                else output.iso(e.ts) or "")
        table.add(str(e.id), when, e.actor, e.action, e.target, e.outcome)
    output.print_table(table)


@app.command()
def verify(ctx: typer.Context, json_out: output.JsonOpt = False) -> None:
    """Check the HMAC chain; names the first altered, deleted or reordered entry (exit 1)."""
    import sys

    ok, summary = _log(ctx).verify()
    if json_out:
        output.print_json({"intact": ok, "summary": summary})
        raise typer.Exit(0 if ok else 1)
    if not ok:
        print(f"error: audit log tampered: {summary}", file=sys.stderr)
        raise typer.Exit(1)
    print(f"audit log intact: {summary}")
