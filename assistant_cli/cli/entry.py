"""The `assistant-cli` executable: fast paths first, then the Typer command tree."""

from __future__ import annotations

import sys

from assistant_cli import __version__


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # `--version` is answered before importing Typer, so scripts that probe it stay fast.
    if args in (["--version"], ["-V"]):
        print(f"assistant-cli {__version__}")
        return
    if not (sys.platform.startswith("linux") or sys.platform == "darwin"):
        print(f"error: assistant-cli runs on Linux and macOS only (this is {sys.platform})",
              file=sys.stderr)
        sys.exit(2)
    from assistant_cli.cli.app import run

    run(args)
