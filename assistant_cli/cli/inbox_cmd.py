"""`assistant-cli inbox`: list the messages whose answer was given up, and queue them again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.store.undelivered import FailedMessage

app = typer.Typer(help="Messages whose answer could not be delivered: list the given-up ones "
                  "and queue them again.\n\nExample: assistant-cli inbox failed",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def failed(ctx: typer.Context, json_out: output.JsonOpt = False) -> None:
    """List given-up messages: id, platform, chat, when and why, tries, whether the sender
    was told, the last error and the text. Also says how many wait for a retry.

    Piped, each row is tab-separated: id, platform, chat, sender, given up (UTC), reason,
    attempts, notice (sent, pending or none: the sender was told, will be,
    or cannot be), error, text.

    Example: assistant-cli inbox failed | cut -f1
    """
    from assistant_cli.store.undelivered import Undelivered

    undelivered = Undelivered(cli_state(ctx).open_db())
    rows, counts = undelivered.failed(), undelivered.counts()
    if json_out:
        output.print_json({"failed": [_as_json(r) for r in rows],
                           "waiting_for_retry": counts.waiting})
        return
    _print_table(rows, counts.waiting)


def _as_json(r: FailedMessage) -> dict[str, object]:
    return {"id": r.id, "platform": r.platform, "chat_id": r.chat_id, "sender_id": r.sender_id,
            "text": r.text, "received_at": output.iso(r.received_at),
            "failed_at": output.iso(r.failed_at), "attempts": r.attempts, "reason": r.reason,
            "error": r.error, "notice": r.notice}


def _print_table(rows: list[FailedMessage], waiting: int) -> None:
    later = f"; {waiting} waiting for a retry" if waiting else ""
    if not rows:
        output.say_empty(f"no given-up messages{later}")
        return
    table = output.Table(("#", "platform", "chat", "sender", "given up", "reason", "tries",
                          "notice", "error", "text"))
    for r in rows:
        table.add(str(r.id), r.platform, r.chat_id, r.sender_id,
                  output.iso(r.failed_at or r.received_at) or "", r.reason, str(r.attempts),
                  r.notice or "none", r.error, r.text)
    output.print_table(table)
    output.note(f"{len(rows)} given up{later}; queue them again with "
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
    from assistant_cli.store.undelivered import Undelivered

    if bool(ids) == all_:
        raise UsageError("name the messages to retry: `assistant-cli inbox retry ID...` or "
                         "`assistant-cli inbox retry --all` (not both)",
                         hint="`assistant-cli inbox failed` lists the ids")
    paths = cli_state(ctx).paths
    db = cli_state(ctx).open_db()
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
