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
    from assistant_cli.store.audit import open_audit

    paths = cli_state(ctx).paths
    db = cli_state(ctx).open_db()
    return open_audit(db, SecretStore(paths, db))


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
def verify(
    ctx: typer.Context,
    reanchor: Annotated[bool, typer.Option(
        "--reanchor", help="After investigating a reported break: accept the log as it is "
        "now as the new reference (audited as audit.reanchor).")] = False,
    json_out: output.JsonOpt = False,
) -> None:
    """Check the HMAC chain and its anchors outside the database; names the first altered,
    deleted or reordered entry, or a wiped, truncated or rolled-back log (exit 1).

    Example: assistant-cli audit verify
    """
    import sys

    log = _log(ctx)
    if reanchor:
        log.reanchor()
        print("audit log re-anchored at its current head (recorded as audit.reanchor)",
              file=sys.stderr if json_out else sys.stdout)
    ok, summary = log.verify()
    if json_out:
        output.print_json({"intact": ok, "summary": summary})
        raise typer.Exit(0 if ok else 1)
    if not ok:
        print(f"error: audit log tampered: {summary}", file=sys.stderr)
        print("hint: keep a copy of state.db for investigation; once understood, "
              "`assistant-cli audit verify --reanchor` accepts the log as it is now",
              file=sys.stderr)
        raise typer.Exit(1)
    print(f"audit log intact: {summary}")
