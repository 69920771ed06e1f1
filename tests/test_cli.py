"""The command tree: help, version, config and secrets commands, error exits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app, run
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from tests.conftest import cli_command, subprocess_env

runner = CliRunner()


def test_version_fast_path_and_typer_agree() -> None:
    from assistant_cli import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"assistant-cli {__version__}"


@pytest.mark.parametrize("group", ["serve", "config", "secrets", "logs", "pairing", "providers",
                                   "doctor", "dashboard"])
def test_every_command_has_help(group: str) -> None:
    result = runner.invoke(app, [group, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_init_writes_a_valid_file_and_refuses_to_overwrite(isolated_home: Path) -> None:
    result = runner.invoke(app, ["config", "init"])
    assert result.exit_code == 0, result.output
    path = isolated_home / "config.yaml"
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert runner.invoke(app, ["config", "validate"]).exit_code == 0
    again = runner.invoke(app, ["config", "init"])
    assert again.exit_code == 1 and "--force" in again.output
    assert runner.invoke(app, ["config", "init", "--force"]).exit_code == 0


def test_invalid_config_exits_2_with_location_and_no_traceback(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated_home / "config.yaml").write_text("platforms:\n  telegram:\n    api_token: env:T\n"
                                               "    mode: pull\n")
    with pytest.raises(SystemExit) as exit_info:
        run(["config", "validate"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "config.yaml:4: platforms.telegram.mode: expected 'polling' or 'webhook', got 'pull'" \
        in err
    assert "Traceback" not in err


def test_debug_flag_shows_the_traceback(isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_text("assistant: [")
    from assistant_cli.errors import ConfigError

    with pytest.raises(ConfigError):
        run(["--debug", "config", "validate"])


def test_config_show_masks_literal_secrets(isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  o:\n    base_url: http://x\n    model: m\n    api_key: sk-literal-999\n")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "sk-literal-999" not in result.output and "api_key: '***'" in result.output


def test_config_flag_points_at_another_file(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text("assistant:\n  history_length: 3\n")
    result = runner.invoke(app, ["--config", str(other), "config", "validate"])
    assert result.exit_code == 0 and "elsewhere.yaml: valid" in result.output


def test_secrets_set_from_stdin_list_and_delete() -> None:
    result = runner.invoke(app, ["secrets", "set", "openai_api_key"], input="sk-abc123\n")
    assert result.exit_code == 0, result.output
    assert "keyring:openai_api_key" in result.output
    assert SecretStore(resolve()).get("openai_api_key") == "sk-abc123"
    listed = runner.invoke(app, ["secrets", "list", "--json"])
    assert '"name": "openai_api_key"' in listed.output and "sk-abc123" not in listed.output
    assert runner.invoke(app, ["secrets", "delete", "openai_api_key"]).exit_code == 0
    assert SecretStore(resolve()).get("openai_api_key") is None
    missing = runner.invoke(app, ["secrets", "delete", "openai_api_key"])
    assert missing.exit_code == 1


def test_secret_name_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(["secrets", "set", "bad name!"])
    assert info.value.code == 1
    assert "invalid secret name" in capsys.readouterr().err


def test_serve_without_config_or_tty_exits_2_with_the_commands_to_run(
    isolated_home: Path,
) -> None:
    proc = subprocess.run([*cli_command(), "serve"], env=subprocess_env(isolated_home),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "assistant-cli config init" in proc.stderr
    assert "assistant-cli secrets set openai_api_key" in proc.stderr


def test_python_dash_m_runs_the_cli(isolated_home: Path) -> None:
    proc = subprocess.run([*cli_command(), "--version"], env=subprocess_env(isolated_home),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("assistant-cli ")


def test_help_does_not_import_heavy_libraries(isolated_home: Path) -> None:
    code = ("import sys; from assistant_cli.cli.entry import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('telegram', 'textual', 'aiohttp', 'jwt', 'httpx', 'keyring',"
            " 'pydantic') if m in sys.modules]\nprint('HEAVY', heavy)")
    import sys

    proc = subprocess.run([sys.executable, "-c", code], env=subprocess_env(isolated_home),
                          capture_output=True, text=True, timeout=30)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_root_help_lists_every_command_without_importing_them() -> None:
    from assistant_cli.cli.lazy import COMMANDS, load

    result = runner.invoke(app, ["--help"])
    rows = [line for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert [row.split()[0] for row in rows] == list(COMMANDS)
    assert not any(row.endswith("...") for row in rows)  # every one-liner fits
    for name in COMMANDS:
        assert load(name).name == name
