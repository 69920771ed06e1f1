"""The README's quick start is what CI runs, and its commands exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def block_after(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, marker
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands() -> None:
    serve, test = block_after("quickstart:serve"), block_after("quickstart:test")
    assert len(serve) == 1 and len(test) == 1
    assert serve[0].endswith("assistant-cli serve")
    assert "pytest" in test[0]


def test_ci_runs_the_readme_test_command() -> None:
    awk = (ROOT / ".ci" / "run").read_text().split("cmd=$(", 1)[1].split(" README.md)", 1)[0]
    out = subprocess.run(["bash", "-c", awk + " README.md"], cwd=ROOT, capture_output=True,
                         text=True, timeout=10)
    assert out.stdout.strip() == block_after("quickstart:test")[0]


def test_everyday_commands_in_readme_are_real_commands() -> None:
    from typer.testing import CliRunner

    from assistant_cli.cli.app import app

    text = (ROOT / "README.md").read_text()
    commands = set(re.findall(r"^assistant-cli ([a-z]+(?: [a-z]+)?)", text, re.M))
    commands |= set(re.findall(r"\| assistant-cli ([a-z]+ [a-z]+)", text))
    assert commands
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)
