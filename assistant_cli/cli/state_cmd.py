"""`assistant-cli state`: what the state database holds, and copying it to PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

app = typer.Typer(help="Show the state database (SQLite file or PostgreSQL) and copy a SQLite "
                  "state to PostgreSQL for several `serve` replicas.", no_args_is_help=True,
                  rich_markup_mode=None)


@app.command()
def info(ctx: typer.Context, json_out: output.JsonOpt = False) -> None:
    """Show the backend, where it is (password masked), schema version, size, rows per
    table, and the replicas seen in the last ten minutes (from their inbox claims).

    Piped, each row is tab-separated: table, rows; then replica, last seen (UTC), claimed.
    Example: assistant-cli state info --json
    """
    from assistant_cli.store.state_info import state_info

    db = cli_state(ctx).open_db()
    try:
        found = state_info(db)
    finally:
        db.close()
    if json_out:
        output.print_json({
            "backend": found.backend, "where": found.where,
            "schema_version": found.schema_version, "latest_schema": found.latest_schema,
            "size_bytes": found.size_bytes, "rows": found.counts,
            "replicas": [{"name": r.name, "last_seen": output.iso(r.last_seen),
                          "age_s": round(r.age, 1), "claimed": r.claimed}
                         for r in found.replicas]})
        return
    size = "-" if found.size_bytes is None else _size(found.size_bytes)
    output.note(f"{found.backend} state at {found.where}: schema {found.schema_version} "
                f"(this assistant-cli: {found.latest_schema}), {size}")
    rows = output.Table(("table", "rows"), title="rows")
    for table, count in found.counts.items():
        rows.add(table, str(count))
    replicas = output.Table(("replica", "last seen", "claimed"), title="replicas seen")
    for r in found.replicas:
        replicas.add(r.name, output.iso(r.last_seen) or "", str(r.claimed))
    output.print_tables([rows, replicas] if found.replicas else [rows])
    if not found.replicas:
        output.note("no replica claimed a message in the last ten minutes")


@app.command()
def migrate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(
        "--to", metavar="URL", help="The PostgreSQL database to copy into: "
        "postgresql://USER@HOST:5432/DB (?sslmode=require for TLS).")],
    password_env: Annotated[str | None, typer.Option(
        "--password-env", metavar="VAR", help="Read the database password from this "
        "environment variable (default: state.password of config.yaml, if set).")] = None,
    batch: Annotated[int, typer.Option(
        "--batch", min=100, max=100_000, help="Rows per transaction.")] = 5000,
) -> None:
    """Copy the SQLite state (inbox, replies, history, pairing, usage, audit chain, kv, tool
    calls, approvals: every table) into PostgreSQL, then compare row counts and verify the
    audit chain there. Safe to re-run: rows are upserted, never doubled; a database holding
    other data is refused. Stop `serve` first, so nothing changes during the copy.

    Example: assistant-cli state migrate --to postgresql://assistant@db.internal/assistant
    --password-env PGPASSWORD
    """
    from assistant_cli.cli.state_migrate import run_migrate

    run_migrate(cli_state(ctx), to, password_env, batch)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"
