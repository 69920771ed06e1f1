"""Subcommands imported only when they run, so `assistant-cli --help` stays fast.

The root help lists every command from the one-liner written here; a test loads every
entry, so a moved or renamed command fails the suite instead of a user's shell.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.core
import typer.main


@dataclass(frozen=True)
class Lazy:
    """Where a subcommand lives: `module:attr` is a Typer group or a command function."""

    target: str
    help: str


# In the order `--help` lists them; the one-liners fit an 80-column terminal.
COMMANDS: dict[str, Lazy] = {
    "serve": Lazy("assistant_cli.cli.serve_cmd:serve",
                  "Run the assistant until Ctrl-C (guided setup on first run)."),
    "pairing": Lazy("assistant_cli.cli.pairing_cmd:app",
                    "Approve, deny and list people who asked to talk to the bot."),
    "providers": Lazy("assistant_cli.cli.providers_cmd:app",
                      "List, add, test and remove model providers; OAuth sign-in."),
    "logs": Lazy("assistant_cli.cli.logs:logs",
                 "Show, filter and follow the log that `serve` writes."),
    "doctor": Lazy("assistant_cli.cli.doctor_cmd:doctor",
                   "Find what is wrong with the setup and say how to fix it."),
    "service": Lazy("assistant_cli.cli.service_cmd:app",
                    "Run serve as a service: systemd user unit or launchd agent."),
    "dashboard": Lazy("assistant_cli.cli.dashboard_cmd:dashboard",
                      "Live console for a running `serve`: metrics, messages, pairing."),
    "gateway": Lazy("assistant_cli.cli.gateway_cmd:app",
                    "Mint tokens for the gateway's WebSocket."),
    "config": Lazy("assistant_cli.cli.config_cmd:app",
                   "Create, check and show the configuration file."),
    "secrets": Lazy("assistant_cli.cli.secrets_cmd:app",
                    "Store, list, rotate and delete secrets in the OS keyring."),
    "inbox": Lazy("assistant_cli.cli.inbox_cmd:app",
                  "List messages whose answer was given up; queue them again."),
    "tools": Lazy("assistant_cli.cli.tools_cmd:app",
                  "List and try the tools the model may call; approvals."),
    "audit": Lazy("assistant_cli.cli.audit_cmd:app",
                  "List and verify the tamper-evident audit log of admin actions."),
    "state": Lazy("assistant_cli.cli.state_cmd:app",
                  "Show the state database; copy a SQLite state to PostgreSQL."),
    "plugins": Lazy("assistant_cli.cli.plugins_cmd:app",
                    "List, create, install and find plugins and languages."),
}


def load(name: str) -> Any:
    """Import and build the click command for `name`, exactly as `add_typer`/`command`
    would have under the root (no completion options, one-command groups kept)."""
    module, _, attr = COMMANDS[name].target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    parent = typer.Typer(rich_markup_mode=None, add_completion=False)
    parent.callback()(_noop)
    if isinstance(obj, typer.Typer):
        parent.add_typer(obj, name=name)
    else:
        parent.command(name)(obj)
    return typer.main.get_command(parent).commands[name]  # type: ignore[attr-defined]


def _noop() -> None:
    """Makes the temporary parent a group, so `name` is built as a subcommand."""


class LazyGroup(typer.core.TyperGroup):
    """The root group: knows its subcommands by name, imports one when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Typer suggests only among imported commands; here every lazy name counts."""
        import difflib

        # click's UsageError, wherever this Typer keeps click (vendored since 0.20).
        usage_error: type[Exception] = typer.BadParameter.__base__  # type: ignore[assignment]
        try:
            return super().resolve_command(ctx, args)
        except usage_error as exc:
            close = difflib.get_close_matches(args[0], self.list_commands(ctx)) if args else []
            message: str = getattr(exc, "message", "")
            if close and "Did you mean" not in message:
                exc.message = (f"{message.rstrip('.')}. Did you mean "  # type: ignore[attr-defined]
                               f"{', '.join(repr(c) for c in close)}?")
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, _shorten(COMMANDS[n].help, limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 1)].rstrip() + "..."
