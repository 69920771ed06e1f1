"""`assistant-cli pairing`: approve, deny, revoke and list who may talk to the bot."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.store.audit import AuditLog
    from assistant_cli.store.pairing import PairingStore

app = typer.Typer(
    help="Approve, deny and list people who asked to talk to the bot. Works whether or not "
    "`serve` is running; a running `serve` tells the person within seconds.",
    no_args_is_help=True, rich_markup_mode=None,
)

# Telegram user ids are positive integers; WhatsApp ids (wa_id) are phone numbers in digits,
# or business-scoped user ids ("US.13491208655302741918") for people who hide their number.
USER_ID_PATTERNS = {"telegram": r"[1-9]\d{0,15}",
                    "whatsapp": r"[1-9]\d{5,19}|[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}"}

Platform = Annotated[str, typer.Option("--platform", help="telegram or whatsapp.")]
UserId = Annotated[str, typer.Option("--user-id", help="The sender's id, as the bot showed it.")]


def _check(platform: str, user_id: str) -> tuple[str, str]:
    from assistant_cli.errors import UsageError

    platform = platform.strip().lower()
    if platform not in USER_ID_PATTERNS:
        raise UsageError(f"unknown platform {platform!r}",
                         hint=f"use one of: {', '.join(USER_ID_PATTERNS)}")
    user_id = user_id.strip()
    if not re.fullmatch(USER_ID_PATTERNS[platform], user_id):
        what = ("a positive number" if platform == "telegram" else
                "the number in digits only, or an id like US.13491208655302741918")
        raise UsageError(f"malformed {platform} user id {user_id!r}: expected {what}",
                         hint="copy the user id from the bot's pairing message or "
                         "`assistant-cli pairing list`")
    return platform, user_id


def _check_code(code: str) -> str:
    """A code that cannot be right is a typo: said so, without using up one of the tries."""
    from assistant_cli.errors import UsageError
    from assistant_cli.store.pairing import ALPHABET, CODE_LENGTH, normalize

    plain = normalize(code)
    if len(plain) != CODE_LENGTH or not set(plain) <= set(ALPHABET):
        raise UsageError(f"malformed pairing code {code!r}: expected {CODE_LENGTH} letters and "
                         "digits like ABCD-EFGH-JKLM (codes never contain 0, O, 1 or I)",
                         hint="copy the code exactly as the bot sent it")
    return plain


def _open(ctx: typer.Context) -> tuple[PairingStore, AuditLog]:
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import open_audit
    from assistant_cli.store.pairing import PairingStore

    paths = cli_state(ctx).paths
    db = cli_state(ctx).open_db()
    audit = open_audit(db, SecretStore(paths, db))
    _ = audit.key  # fail before changing anything if the audit key is out of reach
    return PairingStore(db), audit


@app.command()
def approve(
    ctx: typer.Context,
    platform: Platform,
    user_id: UserId,
    code: Annotated[str, typer.Option("--code", help="The 12-character pairing code "
                                      "(dashes and case don't matter).")],
) -> None:
    """Approve a sender with the code the bot gave them.

    Example: assistant-cli pairing approve --platform telegram --user-id 123456789
    --code ABCDEFGHJKLM
    """
    from assistant_cli.errors import PairingError
    from assistant_cli.store.audit import os_actor

    platform, user_id = _check(platform, user_id)
    code = _check_code(code)
    store, audit = _open(ctx)
    actor = os_actor()
    try:
        req = store.approve(platform, user_id, code, actor)
    except PairingError as exc:
        audit.append("pairing.approve", f"{platform}:{user_id}", "refused", actor=actor,
                     reason=exc.message)
        raise
    audit.append("pairing.approve", f"{platform}:{user_id}", "ok", actor=actor)
    name = f" ({req.display_name})" if req.display_name else ""
    print(f"approved {platform} user {user_id}{name}; a running `serve` tells them now")


@app.command()
def deny(ctx: typer.Context, platform: Platform, user_id: UserId) -> None:
    """Refuse a pending request; they get no reply, and can ask again after an hour."""
    from assistant_cli.errors import PairingError
    from assistant_cli.store.audit import os_actor

    platform, user_id = _check(platform, user_id)
    store, audit = _open(ctx)
    try:
        store.deny(platform, user_id, os_actor())
    except PairingError as exc:
        audit.append("pairing.deny", f"{platform}:{user_id}", "refused", reason=exc.message)
        raise
    audit.append("pairing.deny", f"{platform}:{user_id}", "ok")
    print(f"denied the request from {platform} user {user_id}")


@app.command()
def revoke(ctx: typer.Context, platform: Platform, user_id: UserId) -> None:
    """Remove an approved sender; their next message starts pairing again."""
    platform, user_id = _check(platform, user_id)
    store, audit = _open(ctx)
    if not store.revoke(platform, user_id):
        audit.append("pairing.revoke", f"{platform}:{user_id}", "not-found")
        print(f"error: {platform} user {user_id} is not an approved sender "
              "(`assistant-cli pairing list` shows them)", file=sys.stderr)
        raise typer.Exit(1)
    audit.append("pairing.revoke", f"{platform}:{user_id}", "ok")
    print(f"revoked {platform} user {user_id}")


@app.command()
def allow(
    ctx: typer.Context,
    platform: Platform,
    user_id: UserId,
    name: Annotated[str, typer.Option("--name", help="A name to remember them by.")] = "",
) -> None:
    """Approve a sender without a code, for someone you already know by id."""
    from assistant_cli.store.audit import os_actor

    platform, user_id = _check(platform, user_id)
    store, audit = _open(ctx)
    added = store.allow(platform, user_id, os_actor(), display_name=name)
    audit.append("pairing.allow", f"{platform}:{user_id}", "ok" if added else "unchanged")
    print(f"{'allowed' if added else 'already allowed:'} {platform} user {user_id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Only this platform.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Show at most this many approved senders.")] = None,
    offset: Annotated[int, typer.Option(
        "--offset", min=0, help="Skip this many approved senders first (paging).")] = 0,
    json_out: output.JsonOpt = False,
) -> None:
    """List pending requests (with age and expiry) and approved senders.

    Piped, each row is tab-separated: platform, user id, name, state, since (UTC),
    expires (UTC) or approved by. Example:

      assistant-cli pairing list --limit 50 --offset 100 --json
    """
    import time

    from assistant_cli.store.pairing import PairingStore

    if platform is not None:
        platform, _ = _check(platform, "123456789")
    store = PairingStore(cli_state(ctx).open_db())
    pending = store.pending(platform)
    senders = store.senders(platform, limit=limit, offset=offset)
    if json_out:
        output.print_json({
            "pending": [{"platform": r.platform, "user_id": r.user_id, "name": r.display_name,
                         "status": r.status, "created_at": output.iso(r.created_at),
                         "expires_at": output.iso(r.expires_at),
                         "failed_attempts": r.failed_attempts}
                        for r in pending],
            "approved": [{"platform": s.platform, "user_id": s.user_id, "name": s.display_name,
                          "approved_at": output.iso(s.approved_at), "approved_by": s.approved_by,
                          "via": s.via} for s in senders],
            "approved_total": store.count_senders(platform)})
        return
    if not pending and not senders:
        output.say_empty("no pairing requests and no approved senders yet" if not offset
                  else "no approved senders past that offset")
        return
    output.print_table(_pairing_table(pending, senders, time.time(), output.stdout_is_tty()))


def _pairing_table(pending: list[Any], senders: list[Any], now: float, tty: bool) -> output.Table:
    """Terminal: ages ("5m", "in 55m"); piped: ISO-8601 UTC times a script can compare."""
    table = output.Table(("platform", "user id", "name", "state", "since", "expires / approved by"),
                  title="Pairing")
    for r in pending:
        state = output.Cell(r.status, "red" if r.status == "locked" else "yellow")
        table.add(r.platform, r.user_id, r.display_name, state,
                  _ago(now - r.created_at) if tty else output.iso(r.created_at) or "",
                  f"in {_ago(r.expires_at - now)}" if tty else output.iso(r.expires_at) or "")
    for s in senders:
        table.add(s.platform, s.user_id, s.display_name, output.Cell("approved", "green"),
                  _ago(now - s.approved_at) if tty else output.iso(s.approved_at) or "",
                  f"{s.approved_by} ({s.via})")
    return table


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"
