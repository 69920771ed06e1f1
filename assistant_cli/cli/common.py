"""Shared plumbing for command modules: the per-run context and console helpers.

Command modules import only typer (and this module) at top level; everything heavier is
imported inside the command body so that `--help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from assistant_cli.paths import Paths, resolve

if TYPE_CHECKING:
    from rich.console import Console

    from assistant_cli.config.models import Config
    from assistant_cli.store.db import Database


@dataclass
class CliState:
    """What the global options decided, shared with every subcommand via ctx.obj."""

    config_override: str | None = None
    debug: bool = False

    @property
    def paths(self) -> Paths:
        return resolve(self.config_override)

    def load_config(self) -> Config:
        """Load and validate config.yaml (raises ConfigError with file:line on problems)."""
        from assistant_cli.config.loader import load_config

        return load_config(self.paths.config_file)

    def open_db(self) -> Database:
        """The state database config.yaml's `state:` names: the SQLite file by default, or
        PostgreSQL (`state.url`); migrated to the latest schema."""
        from assistant_cli.store.backend import open_state

        return open_state(self.paths)


def cli_state(ctx: typer.Context) -> CliState:
    """The CliState of this invocation (a default one when called outside the root app)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
