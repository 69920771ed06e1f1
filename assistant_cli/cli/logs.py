"""The `assistant-cli logs` command: show, filter and follow the gateway's JSON-lines log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from assistant_cli.observability.logview import LogFilter, LogRecord

_LEVEL_CHOICES = ("debug", "info", "warning", "error")


def logs(
    ctx: typer.Context,
    n: Annotated[
        int,
        typer.Option(
            "-n",
            "--lines",
            min=0,
            help="How many of the most recent matching records to show (0 with -f: only new ones).",
        ),
    ] = 50,
    follow: Annotated[
        bool,
        typer.Option(
            "-f", "--follow", help="Keep printing new records as they are written; Ctrl-C stops."
        ),
    ] = False,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            metavar="LEVEL",
            help="Only records at this level or above: debug, info, warning or error.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only records newer than this: 10m, 2h, 1d or an ISO time (local if no offset).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="WHEN",
            help="Only records older than this: 10m, 2h, 1d or an ISO time (local if no offset).",
        ),
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option(
            "--grep",
            metavar="REGEX",
            help="Only records matching this regular expression (case-insensitive).",
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel", metavar="NAME", help="Only records about this channel, e.g. telegram."
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document {\"records\": [...]}; with -f, "
                     "the stored JSON lines as they come (see docs/output.md)."),
    ] = False,
) -> None:
    """Show what the gateway has been doing, from the log `assistant-cli serve` writes.

    Secrets are already masked in the log. Rotated files (.1, .2 ...) are read when the
    current one holds too few matching records.

    Examples:

      assistant-cli logs -n 100 --level warning

      assistant-cli logs -f --channel telegram --grep 'timeout|rate'

      assistant-cli logs --since 2h --until 1h --json | jq '.records[].latency_ms'
    """
    # Long only by its signature, which is the command's interface: one option per flag.
    from assistant_cli.cli.common import cli_state
    from assistant_cli.errors import UsageError
    from assistant_cli.observability.logview import LogFilter, parse_since

    if level is not None and level.strip().lower() not in _LEVEL_CHOICES:
        raise UsageError(
            f"--level {level!r} is not a log level", hint="use one of " + ", ".join(_LEVEL_CHOICES)
        )
    flt = LogFilter(
        min_level=level,
        since=parse_since(since) if since is not None else None,
        until=parse_since(until) if until is not None else None,
        grep=grep,
        channel=channel,
    )
    log_file = cli_state(ctx).paths.log_file
    if not log_file.exists() and not follow:
        typer.echo(
            f"No log file yet at {log_file}.\n"
            "`assistant-cli serve` writes it once it has run; start it and try again.",
            err=True,
        )
        raise typer.Exit(1)
    _print_records(log_file, flt, n, follow=follow, json_out=json_out)


def _print_records(log_file: Path, flt: LogFilter, n: int, *, follow: bool,
                   json_out: bool) -> None:
    """The last `n` matching records, then (with `follow`) new ones until Ctrl-C."""
    import json

    from assistant_cli.cli.common import console
    from assistant_cli.cli.output import print_json, say_empty
    from assistant_cli.observability.logview import follow as follow_log
    from assistant_cli.observability.logview import format_record, tail

    out = console()
    shown = 0

    def show(rec: LogRecord) -> None:
        nonlocal shown
        shown += 1
        if json_out:
            typer.echo(rec.raw)
        else:
            out.print(format_record(rec), soft_wrap=True)

    # Where following starts is fixed before the tail is read, so that nothing written in
    # between (or to a file that appears only now) is missed.
    missing = not log_file.exists()
    new_records = follow_log(log_file, flt) if follow else iter(())
    if missing:
        # Following is often started before `serve`; the file is read once it appears.
        typer.echo(f"waiting for {log_file} (`assistant-cli serve` creates it)...", err=True)
    try:
        if json_out and not follow:
            print_json({"records": [json.loads(r.raw) if r.raw.startswith("{") else
                                    {"msg": r.raw} for r in tail(log_file, n, flt)]})
            return
        for rec in tail(log_file, n, flt):
            show(rec)
        if not shown and not follow:
            say_empty("no entries match" if _filtered(flt) else "no entries")
        for rec in new_records:
            show(rec)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(0) from None


def _filtered(flt: LogFilter) -> bool:
    return any(v is not None for v in (flt.min_level, flt.since, flt.until, flt.grep,
                                       flt.channel))


def _silence_stdout() -> None:
    """After `| head` closes the pipe, stop Python's exit-time flush from complaining."""
    import contextlib
    import os
    import sys

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
