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


def _bash_complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    """COMPREPLY of the generated bash script for the command line `words` (last = cur)."""
    script = ROOT / "completions" / FILES["bash"]
    count = len(words.split()) - (0 if words.endswith(" ") else 1)
    empty_cur = '""' if words.endswith(" ") else ""
    probe = (f'source "{script}"; COMP_WORDS=({words}{empty_cur}); COMP_CWORD={count}; '
             '_assistant_cli; printf "%s\\n" "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30,
                         env=env)
    return [w for w in out.stdout.splitlines() if w]


def test_bash_completes_values_not_option_names(tmp_path: Path) -> None:
    import os
    import sys

    if shutil.which("bash") is None:
        pytest.skip("bash not installed")
    assert _bash_complete("assistant-cli logs --level ") == ["debug", "info", "warning",
                                                             "error"]
    assert _bash_complete("assistant-cli pairing approve --platform ") == ["telegram",
                                                                           "whatsapp"]
    assert "state.database" in _bash_complete("assistant-cli doctor --only sta")
    # --kind means plugin kinds under `plugins`, provider kinds under `providers`
    assert _bash_complete("assistant-cli plugins list --kind ") == [
        "handler", "tool", "provider", "channel", "locale"]
    assert "anthropic" in _bash_complete("assistant-cli providers add --kind ")
    assert not any(w.startswith("--") for w in _bash_complete("assistant-cli logs --since "))
    # provider names come from the config, through `providers list` piped
    (tmp_path / "config.yaml").write_text(
        "providers:\n  main: {base_url: 'http://127.0.0.1:9/v1', model: m}\n"
        "  spare: {base_url: 'http://127.0.0.1:9/v1', model: m}\n")
    env = {**os.environ, "ASSISTANT_CLI_HOME": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert _bash_complete("assistant-cli providers test ", env) == ["main", "spare"]


def test_fish_completes_values_one_per_candidate_and_zsh_parses() -> None:
    """fish splits command output on lines only: each value must be its own candidate."""
    script = ROOT / "completions"
    if shutil.which("zsh") is not None:
        assert subprocess.run(["zsh", "-n", str(script / FILES["zsh"])],
                              capture_output=True, timeout=30).returncode == 0
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed: fish completion was not run")
    out = subprocess.run(
        ["fish", "-c", f"source {script / FILES['fish']}; "
         "complete -C 'assistant-cli logs --level '"],
        capture_output=True, text=True, timeout=30)
    assert sorted(out.stdout.split("\n")[:-1]) == ["debug", "error", "info", "warning"]
