"""`assistant-cli serve`: run the assistant (with a guided setup on first run)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant_cli.cli.common import cli_state


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(
        "--host", help="Gateway address to bind (default gateway.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", help="Gateway port (default gateway.port, 8080; 0 picks a free one).")] = None,
) -> None:
    """Run the assistant: receive messages, answer them with your model, until Ctrl-C.

    With no chat platform configured it chats right here in the terminal. The first time,
    in a terminal, it walks you through choosing a provider and storing its key. Messages
    are stored before they are acknowledged, so a crash or restart loses none.
    """
    import asyncio

    from assistant_cli.config.loader import (
        literal_secret_warnings,
        read_document,
        validate_document,
    )
    from assistant_cli.serve import ServeOptions, run

    state = cli_state(ctx)
    paths = state.paths
    if not paths.config_file.exists():
        if sys.stdin.isatty() and sys.stdout.isatty():
            from assistant_cli.cli.setup_wizard import first_run

            first_run(paths)
        else:
            print(
                f"error: no config file at {paths.config_file}, and no terminal to ask in.\n"
                "  fix: run these commands, then start again:\n"
                "    assistant-cli config init\n"
                "    assistant-cli secrets set openai_api_key   # reads the key from stdin\n"
                "    assistant-cli serve",
                file=sys.stderr,
            )
            raise typer.Exit(2)
    doc = read_document(paths.config_file)
    config = validate_document(doc, paths.config_file.name)
    for warning in literal_secret_warnings(doc, paths.config_file.name):
        print(f"warning: {warning}", file=sys.stderr)
    options = ServeOptions(host=host, port=port, debug=state.debug)
    raise typer.Exit(asyncio.run(run(config, paths, options)))
