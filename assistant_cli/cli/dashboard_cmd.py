"""`assistant-cli dashboard`: the live Textual console for a running `serve`."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant_cli.cli.common import cli_state


def dashboard(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Argument(
        metavar="URL",
        help="The URL `serve` printed (http://HOST:PORT/?token=...). Without it, the "
        "dashboard finds this machine's serve from the config and mints its own token.",
        show_default=False)] = None,
    ca_file: Annotated[str | None, typer.Option(
        "--ca-file", metavar="PEM",
        help="Trust this certificate (e.g. a self-signed one) for an https:// URL.")] = None,
) -> None:
    """Watch and steer a running `serve`: metrics, messages, pairing requests, logs.

    Keys: 1-5 switch tabs, a/d approve or deny the selected pairing request, x revokes an
    approved sender, l changes the log level, / filters the log, ? shows help, r reconnects
    now, q quits. Reconnects by itself with backoff.
    """
    from assistant_cli.gateway.local import split_dashboard_url
    from assistant_cli.gateway.tls import client_context, pinned_client_context
    from assistant_cli.tui.client import Target

    state = cli_state(ctx)
    if url is not None:
        base, fixed = split_dashboard_url(url)
        context = client_context(ca_file) if base.startswith("https") else None
        target = Target(base, lambda: fixed, context)
        _need_terminal()
    else:
        from assistant_cli.gateway.control import owner_subject
        from assistant_cli.gateway.local import local_base_url, local_keys

        _need_terminal()
        config = state.load_config().gateway
        base = local_base_url(state.paths, config)
        keys = local_keys(state.paths, config)
        context = None
        if base.startswith("https"):
            context = client_context(ca_file) if ca_file or not config.tls_cert else \
                pinned_client_context(config.tls_cert)
        subject = f"{owner_subject()}@dashboard"
        target = Target(base, lambda: keys.mint(subject, 3600), context, refreshable=True)
    from assistant_cli.tui.app import DashboardApp

    DashboardApp(target).run()


def _need_terminal() -> None:
    """Without a terminal Textual would spray escape codes into a pipe or a log."""
    import sys

    from assistant_cli.errors import UsageError

    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise UsageError("the dashboard needs a terminal, but stdin or stdout is not one "
                         "(piped, redirected, or run by a service)",
                         hint="run it in an interactive terminal; scripts can use "
                         "`assistant-cli logs --json`, `pairing list --json` or the "
                         "gateway's /ws (docs/GATEWAY_PROTOCOL.md)")
