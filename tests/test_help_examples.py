"""Every command added with tools, inbox, plugins and service (and `audit verify`) shows an
example in its --help, as the rest of the CLI does."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from assistant_cli.cli.app import app

GROUPS = ("tools", "inbox", "plugins", "service")


def _command(*path: str) -> Any:
    cmd: Any = typer.main.get_command(app)
    for name in path:
        cmd = cmd.get_command(cmd.context_class(cmd), name)
    return cmd


def _paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [("audit", "verify")]
    for group in GROUPS:
        cmd = _command(group)
        paths.append((group,))
        paths += [(group, name) for name in cmd.list_commands(cmd.context_class(cmd))
                  if not cmd.get_command(cmd.context_class(cmd), name).hidden]
    return paths


@pytest.mark.parametrize("path", _paths(), ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    cmd = _command(*path)
    assert "Example: assistant-cli " + " ".join(path) in (cmd.help or ""), (
        f"`assistant-cli {' '.join(path)} --help` shows no example")
