"""Bad input through the real `assistant-cli` process: a short error, the fix, an exit code.

Each case runs the installed command tree in a child process, as a user would, and checks
that the message names the input and the fix and that no traceback reaches the terminal.
The suite runs as root, so "not writable" is simulated with a file where a directory
should be (root can write anywhere else).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import cli_command, subprocess_env

CONFIG = ("providers:\n  local:\n    base_url: {url}\n    model: m\n    api_key: {key}\n"
          "    timeout: 5\ngateway:\n  port: 0\n")


def cli(home: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*cli_command(), *args], input=stdin, capture_output=True, text=True,
        env=subprocess_env(home, **env), timeout=30,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def write_config(home: Path, url: str = "http://127.0.0.1:9/v1",
                 key: str = "env:LOCAL_KEY") -> None:
    (home / "config.yaml").write_text(CONFIG.format(url=url, key=key), encoding="utf-8")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STATE_COMMANDS = {
    "serve": ["serve"],
    "secrets set": ["secrets", "set", "local_key"],
    "pairing approve": ["pairing", "approve", "--platform", "telegram", "--user-id", "42",
                        "--code", "ABCD-EFGH-JKLM"],
    "pairing list": ["pairing", "list"],
}


@pytest.mark.parametrize("command", STATE_COMMANDS)
def test_state_directory_blocked_by_a_file_names_it_and_the_fix(
    isolated_home: Path, command: str
) -> None:
    write_config(isolated_home)
    (isolated_home / "state").write_text("not a directory")
    result = cli(isolated_home, *STATE_COMMANDS[command], stdin="sk-value\n",
                 LOCAL_KEY="sk-value", ASSISTANT_CLI_KEYRING_PASSWORD="pw")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert str(isolated_home / "state") in result.stderr
    assert "fix:" in result.stderr and "ASSISTANT_CLI_HOME" in result.stderr
    assert len(result.stderr.splitlines()) <= 3


@pytest.mark.parametrize("blocker", ["logs-is-a-file", "log-file-is-a-directory"])
def test_serve_with_an_unusable_log_location_fails_before_starting(
    isolated_home: Path, blocker: str
) -> None:
    write_config(isolated_home)
    logs = isolated_home / "state" / "logs"
    if blocker == "logs-is-a-file":
        logs.parent.mkdir()
        logs.write_text("x")
        named = logs
    else:
        named = logs / "assistant-cli.jsonl"
        named.mkdir(parents=True)
    result = cli(isolated_home, "serve", LOCAL_KEY="sk-value")
    assert result.returncode == 1, result.stderr
    assert str(named) in result.stderr and "fix:" in result.stderr
    assert "ready" not in result.stderr


def test_config_init_into_a_blocked_directory_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "cfg").write_text("a file")
    result = cli(tmp_path, "--config", str(tmp_path / "cfg" / "config.yaml"), "config", "init")
    assert result.returncode == 2, result.stderr
    assert f"cannot write {tmp_path / 'cfg' / 'config.yaml'}" in result.stderr
    assert "fix:" in result.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("providers:\n  a:\n    base_url: x\n   model: y\n", "config.yaml:4: not valid YAML"),
    ("providers:\n  a:\n    base_url: x\n    modle: y\n",
     "config.yaml:4: providers.a.modle: unknown key; did you mean 'model'?"),
    ("- just\n- a list\n", "config.yaml:1: expected a mapping of settings"),
])
def test_broken_config_stops_serve_with_exit_2_and_file_line_key(
    isolated_home: Path, text: str, expected: str
) -> None:
    (isolated_home / "config.yaml").write_text(text)
    result = cli(isolated_home, "serve")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {expected}"), result.stderr
    assert "fix:" in result.stderr


def test_config_that_is_not_utf8_says_so(isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_bytes(b"providers: \xff\xfe\n")
    result = cli(isolated_home, "config", "validate")
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr and "fix: save the file as UTF-8" in result.stderr


def test_secret_missing_from_the_keyring_stops_serve_naming_key_and_command(
    isolated_home: Path,
) -> None:
    write_config(isolated_home, key="keyring:local_key")
    result = cli(isolated_home, "serve", ASSISTANT_CLI_KEYRING_PASSWORD="pw")
    assert result.returncode == 1, result.stderr
    assert "providers.local.api_key: secret 'local_key' is not in the keyring" in result.stderr
    assert "assistant-cli secrets set local_key" in result.stderr


@pytest.mark.parametrize("args", [["serve"], ["secrets", "set", "local_key"]])
def test_no_keyring_explains_the_options_and_writes_nothing(
    isolated_home: Path, args: list[str]
) -> None:
    write_config(isolated_home, key="keyring:local_key")
    result = cli(isolated_home, *args, stdin="sk-value\n",
                 PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert result.returncode == 1, result.stderr
    assert "no usable keyring" in result.stderr
    for option in ("Secret Service", "PYTHON_KEYRING_BACKEND", "ASSISTANT_CLI_KEYRING_PASSWORD"):
        assert option in result.stderr
    assert not (isolated_home / "state" / "secrets.enc").exists()


def test_unreachable_provider_is_explained_in_the_terminal(isolated_home: Path) -> None:
    port = closed_port()
    write_config(isolated_home, url=f"http://127.0.0.1:{port}/v1")
    result = cli(isolated_home, "serve", stdin="hello\n", LOCAL_KEY="sk-value")
    # serve itself is fine (it drains its input and exits 0); the turn says what failed.
    assert result.returncode == 0, result.stderr
    assert "assistant > Sorry — I can't reach my language model" in result.stdout
    assert f"could not connect to 127.0.0.1:{port}" in result.stdout
    assert "fix: check that the service is running" in result.stdout
    assert result.stdout.count("assistant >") == 1
    # Asked directly, the same problem is a non-zero exit with the diagnosis.
    probe = cli(isolated_home, "providers", "test", "local", LOCAL_KEY="sk-value")
    assert probe.returncode == 1
    assert f"could not connect to 127.0.0.1:{port}" in probe.stdout
    assert "Check that the service is running" in probe.stdout + probe.stderr


def test_config_show_never_prints_a_secret_value(isolated_home: Path) -> None:
    secrets = ["sk-proj-literal0123456789abcdef", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
               "hunter2-password", "wa-access-token-literal", "Bearer-xyz-header-value",
               "client-secret-literal"]
    (isolated_home / "config.yaml").write_text(
        "platforms:\n"
        "  telegram:\n"
        f"    api_token: '{secrets[1]}'\n"
        "  whatsapp:\n"
        "    business_id: '1'\n"
        "    phone_number: '+15550000000'\n"
        f"    access_token: {secrets[3]}\n"
        "providers:\n"
        "  o:\n"
        f"    base_url: https://user:{secrets[2]}@models.example/v1\n"
        "    model: m\n"
        f"    api_key: {secrets[0]}\n"
        f"    headers: {{Authorization: {secrets[4]}, X-Title: my-bot}}\n"
        "    auth:\n"
        "      type: oauth\n"
        "      flow: client_credentials\n"
        "      token_url: https://auth.example/token\n"
        "      client_id: me\n"
        f"      client_secret: {secrets[5]}\n"
        "gateway:\n"
        "  jwt_secret: env:JWT\n",
        encoding="utf-8",
    )
    result = cli(isolated_home, "config", "show")
    assert result.returncode == 0, result.stderr
    for secret in secrets:
        assert secret not in result.stdout
    assert "env:JWT" in result.stdout and "X-Title: my-bot" in result.stdout
    assert "https://user:***@models.example/v1" in result.stdout

