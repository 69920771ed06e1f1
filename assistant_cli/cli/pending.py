"""Command groups whose work is not built yet: they say so and exit non-zero."""

from __future__ import annotations

import sys

import typer

# name -> (one-line help, what is missing)
PENDING: dict[str, tuple[str, str]] = {}


def register(app: typer.Typer) -> None:
    for name, (help_text, missing) in PENDING.items():
        app.command(
            name, help=f"{help_text} (not available yet)",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name, missing))


def _make(name: str, missing: str):  # type: ignore[no-untyped-def]
    def command(ctx: typer.Context) -> None:
        print(f"error: `{name}` is not available yet in this version: {missing}.",
              file=sys.stderr)
        raise typer.Exit(3)

    command.__name__ = name
    return command
