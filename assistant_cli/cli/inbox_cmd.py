"""`assistant-cli inbox`: list the messages whose answer was given up, and queue them again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.store.undelivered import FailedMessage

app = typer.Typer(help="Messages whose answer could not be delivered: list the given-up ones "
                  "and queue them again.", no_args_is_help=True, rich_markup_mode=None)


@app.command()
def failed(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List given-up messages: id, platform, chat, why, the last error, whether the sender
    was told. Also says how many wait for a retry.

    Example: assistant-cli inbox failed --json
    """
    import json

    from assistant_cli.store.db import Database
    from assistant_cli.store.undelivered import Undelivered

    undelivered = Undelivered(Database(cli_state(ctx).paths.database))
    rows, counts = undelivered.failed(), undelivered.counts()
    if json_out:
        print(json.dumps({"failed": [_as_json(r) for r in rows],
                          "waiting_for_retry": counts.waiting}, indent=2))
        return
    _print_table(rows, counts.waiting)


def _as_json(r: FailedMessage) -> dict[str, object]:
    return {"id": r.id, "platform": r.platform, "chat_id": r.chat_id, "sender_id": r.sender_id,
            "text": r.text, "received_at": r.received_at, "failed_at": r.failed_at,
            "attempts": r.attempts, "reason": r.reason, "error": r.error, "notice": r.notice}


def _print_table(rows: list[FailedMessage], waiting: int) -> None:
    """One plain line per message: nothing is cut when the output is piped."""
    import datetime as dt

    later = f"; {waiting} waiting for a retry" if waiting else ""
    if not rows:
        print(f"no given-up messages{later}")
        return
    told = {"sent": "sender told", "pending": "sender not told yet",
            "unreachable": "sender unreachable", None: "sender unreachable"}
    for r in rows:
        when = dt.datetime.fromtimestamp(r.failed_at or r.received_at).strftime("%Y-%m-%d %H:%M")
        tries = f"{r.attempts} tr{'y' if r.attempts == 1 else 'ies'}"
        print(f"{r.id}  {r.platform} chat {r.chat_id}  given up {when} ({r.reason}, {tries}; "
              f"{told.get(r.notice, r.notice)})  error: {r.error}  text: {r.text!r}")
    print(f"{len(rows)} given up{later}; queue them again with "
          "`assistant-cli inbox retry ID...` or `--all`")


@app.command()
def retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(
        metavar="[ID]...", help="Ids from `assistant-cli inbox failed`.", show_default=False)]
    = None,
    all_: Annotated[bool, typer.Option("--all", help="Every given-up message.")] = False,
) -> None:
    """Queue given-up messages again, with a fresh retry window. A running `serve` picks
    them up within a second; an answer already generated is resent, not regenerated.
    Recorded in the audit log.

    Example: assistant-cli inbox retry 12 15    (or: assistant-cli inbox retry --all)
    """
    from assistant_cli.errors import UsageError
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit
    from assistant_cli.store.db import Database
    from assistant_cli.store.undelivered import Undelivered

    if bool(ids) == all_:
        raise UsageError("name the messages to retry: `assistant-cli inbox retry ID...` or "
                         "`assistant-cli inbox retry --all` (not both)",
                         hint="`assistant-cli inbox failed` lists the ids")
    paths = cli_state(ctx).paths
    db = Database(paths.database)
    audit = open_audit(db, SecretStore(paths, db))
    _ = audit.key  # fail before changing anything if the audit key is out of reach
    undelivered = Undelivered(db)
    if ids:
        known = {r.id for r in undelivered.failed()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UsageError(f"not a given-up message: {', '.join(map(str, unknown))}",
                             hint="`assistant-cli inbox failed` lists the ids that can be "
                             "retried")
    requeued = undelivered.requeue(ids or None)
    target = "all" if all_ else ",".join(map(str, ids or []))
    audit.append("inbox.retry", target, "ok", ids=requeued)
    plural = "" if len(requeued) == 1 else "s"
    print(f"queued {len(requeued)} message{plural} again"
          + (f": {', '.join(map(str, requeued))}" if requeued else ""))
