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
    jwt_secret: Annotated[str | None, typer.Option(
        "--jwt-secret", metavar="SECRET",
        help="Secret that signs dashboard tokens, at least 32 characters; env:NAME or "
        "keyring:NAME read it from there (default gateway.jwt_secret, generated in the "
        "keyring on first use).")] = None,
    allowed_origins: Annotated[str | None, typer.Option(
        "--allowed-origins", metavar="ORIGINS",
        help="Comma-separated browser origins allowed to open the WebSocket, e.g. "
        "https://ops.example; \"*\" allows any (a warning is printed).")] = None,
    tls_cert: Annotated[str | None, typer.Option(
        "--tls-cert", metavar="PEM", help="Certificate (chain) to serve HTTPS/WSS with.")] = None,
    tls_key: Annotated[str | None, typer.Option(
        "--tls-key", metavar="PEM", help="Private key of --tls-cert.")] = None,
    insecure_http: Annotated[bool, typer.Option(
        "--insecure-http", help="Allow the gateway on a non-loopback address without TLS "
        "(refused otherwise). Prefer TLS, or nginx with TLS in front of 127.0.0.1.")] = False,
    role: Annotated[str, typer.Option(
        "--role", metavar="ROLE",
        help="all (default): receive and answer. intake: only receive and store (polling "
        "leader, webhooks). worker: only claim stored messages and answer. intake and "
        "worker need the shared PostgreSQL state (state.url); see docs/replicas.md.",
    )] = "all",
    replica: Annotated[str | None, typer.Option(
        "--replica", metavar="NAME", help="This replica's name in leases, the dashboard and "
        "/metrics (default state.replica, else host-pid); with PostgreSQL state only.")] = None,
) -> None:
    """Run the assistant: receive messages, answer them with your model, until Ctrl-C.

    With no chat platform configured it chats right here in the terminal. The first time,
    in a terminal, it walks you through choosing a provider and storing its key. Messages
    are stored before they are acknowledged, so a crash or restart loses none.

    The gateway (health, metrics, webhooks, the dashboard's WebSocket) listens on
    127.0.0.1:8080; at start it prints a URL with an access token and the matching
    `assistant-cli dashboard` command.

    Several replicas on one PostgreSQL database (state.url) share the work; --role splits
    receiving from answering.

    Example: assistant-cli serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem

    Example: assistant-cli serve --role worker --replica worker-2 --port 8082
    """
    from assistant_cli.app import event_loop
    from assistant_cli.app.serve import ServeOptions, run
    from assistant_cli.config.loader import (
        literal_secret_warnings,
        read_document,
        validate_document,
    )

    state = cli_state(ctx)
    paths = state.paths
    if not paths.config_file.exists():
        if sys.stdin.isatty() and sys.stdout.isatty():
            from assistant_cli.cli.setup_wizard import first_run

            first_run(paths, port)  # a --port given now is the one later commands look for
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
    origins = None if allowed_origins is None else [
        o.strip() for o in allowed_origins.split(",") if o.strip()]
    options = ServeOptions(host=host, port=port, debug=state.debug, jwt_secret=jwt_secret,
                           allowed_origins=origins, tls_cert=tls_cert, tls_key=tls_key,
                           insecure_http=insecure_http, role=role.lower(), replica=replica)
    raise typer.Exit(event_loop.run(run(config, paths, options)))
