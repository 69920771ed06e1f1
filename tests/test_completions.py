"""Shell completion scripts in completions/ match the command tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from assistant_cli.cli.completions import FILES, render

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", sorted(FILES))
def test_completion_script_is_up_to_date(shell: str) -> None:
    committed = (ROOT / "completions" / FILES[shell]).read_text()
    assert committed == render(shell), (
        "completions/ is stale: run `python -m assistant_cli.cli.completions completions`")


def test_bash_completion_completes_subcommands_and_options() -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    script = ROOT / "completions" / FILES["bash"]
    probe = (f'source "{script}"; COMP_WORDS=(assistant-cli --debug secrets l); COMP_CWORD=3; '
             '_assistant_cli; echo "${COMPREPLY[@]}"; '
             'COMP_WORDS=(assistant-cli serve --p); COMP_CWORD=2; _assistant_cli; '
             'echo "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=10)
    assert out.stdout.splitlines() == ["list", "--port"]


def test_every_command_appears_in_each_script() -> None:
    for shell in FILES:
        text = render(shell)
        for command in ("serve", "pairing", "providers", "logs", "doctor", "config", "secrets"):
            assert command in text, (shell, command)
