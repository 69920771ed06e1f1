"""The root command: global options, the command tree, and how errors reach the user."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant_cli import __version__
from assistant_cli.cli.common import CliState
from assistant_cli.cli.lazy import LazyGroup

app = typer.Typer(
    name="assistant-cli",
    help=(
        "Self-hosted AI assistant gateway: connect Telegram, WhatsApp and this terminal to "
        "the language models you choose.\n\n"
        "Start with `assistant-cli serve` (a guided setup runs the first time). Config lives "
        "in $XDG_CONFIG_HOME/assistant-cli/config.yaml, state and logs in "
        "$XDG_STATE_HOME/assistant-cli/ (or both under $ASSISTANT_CLI_HOME)."
    ),
    cls=LazyGroup,  # subcommands are imported only when used (see cli/lazy.py)
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"assistant-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(
        "--config", metavar="PATH", envvar="ASSISTANT_CLI_CONFIG",
        help="Use this config file instead of the default location.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show debug logs and full tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = CliState(config_override=config, debug=debug)
    _DEBUG[0] = debug


_DEBUG = [False]



def run(args: list[str]) -> None:
    """Invoke the command tree; user errors print one line and exit non-zero."""
    from assistant_cli.errors import AssistantError

    try:
        app(args=args, prog_name="assistant-cli")
    except AssistantError as exc:
        if _DEBUG[0] or "--debug" in args:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
