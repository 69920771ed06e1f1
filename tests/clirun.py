"""Running the command tree in-process the way `assistant-cli` does, errors included."""

from __future__ import annotations

import pytest

from assistant_cli.cli.app import run


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `assistant-cli ARGS`; user errors exit as in a shell."""
    code = 0
    try:
        run(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err
