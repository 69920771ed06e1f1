"""`assistant-cli doctor`: find what is wrong with the setup and say how to fix it."""

from __future__ import annotations

from typing import Annotated

import typer


def _selectors(value: str | None, option: str) -> list[str]:
    from assistant_cli.doctor.registry import GROUPS, STATIC, is_known_selector
    from assistant_cli.errors import UsageError

    if not value:
        return []
    items = [s.strip() for s in value.split(",") if s.strip()]
    for item in items:
        if not is_known_selector(item):
            known = ", ".join([*GROUPS, *(c.id for c in STATIC), "providers.NAME"])
            raise UsageError(f"{option} {item!r} is not a check id or group",
                             hint=f"use one of: {known}")
    return items


def doctor(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    only: Annotated[str | None, typer.Option(
        "--only", metavar="IDS",
        help="Run only these checks: ids or groups, comma-separated (e.g. state,providers).",
    )] = None,
    skip: Annotated[str | None, typer.Option(
        "--skip", metavar="IDS", help="Leave out these checks: ids or groups, comma-separated.",
    )] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Skip checks that talk to Telegram, WhatsApp or model providers.",
    )] = False,
    fix: Annotated[bool, typer.Option(
        "--fix", help="Apply safe repairs (file modes, missing directories, a missing gateway "
        "secret) and say what changed.",
    )] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show what every check found, skipped ones included.",
    )] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.1,
        help="Time limit for each check; network checks stop at it.",
    )] = 5.0,
) -> None:
    """Find what is wrong with the setup and say how to fix it.

    Checks run at the same time, each with a time limit: environment, config.yaml,
    secrets (keyring, presence, rotation age), state (integrity, schema, audit chain,
    file modes, disk), the gateway (port, /healthz, /readyz, TLS files), Telegram,
    WhatsApp, and every provider (DNS, TCP, TLS, then one cheap authenticated call).
    Nothing is changed unless --fix is given.

    Exit codes: 0 all ok, 1 warnings, 2 failures.

    Examples:

      assistant-cli doctor --offline

      assistant-cli doctor --verbose --only state

      assistant-cli doctor --only providers,telegram --json
    """
    import time

    from assistant_cli.cli.common import cli_state, console
    from assistant_cli.cli.output import print_json
    from assistant_cli.doctor.base import DoctorContext, quiet_logging
    from assistant_cli.doctor.report import as_json, print_report
    from assistant_cli.doctor.runner import exit_code, run

    only_ids, skip_ids = _selectors(only, "--only"), _selectors(skip, "--skip")
    started = time.monotonic()
    state = cli_state(ctx)
    quiet_logging(state.debug)
    dctx = DoctorContext(state.paths, offline=offline, timeout=timeout)
    outcomes = run(dctx, only=only_ids, skip=skip_ids, fix=fix)
    seconds = time.monotonic() - started
    if not outcomes:
        from assistant_cli.errors import UsageError

        raise UsageError(f"no check matched --only {only}",
                         hint="provider checks are named providers.NAME after the names in "
                         "config.yaml; `assistant-cli doctor --json` lists every id")
    if json_out:
        print_json(as_json(outcomes, seconds))
    else:
        print_report(outcomes, console(), seconds, verbose=verbose)
    raise typer.Exit(exit_code(outcomes))
