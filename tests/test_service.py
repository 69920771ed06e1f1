"""`assistant-cli service`: the systemd unit and launchd agent it writes, checked by the
service manager's own verifier where there is one, and install/uninstall against stand-in
systemctl/loginctl scripts (a test must not change the machine's real services)."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clirun import cli

SECRET = "pw-that-must-not-appear"


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring-password"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def _dry_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Path, str]:
    code, out, err = cli(capsys, "service", "install", "--dry-run", *args)
    assert code == 0, err
    header, _, rest = out.partition("\n")
    text, _, commands = rest.partition("# then:\n")
    assert commands.startswith(("systemctl --user daemon-reload", "launchctl bootstrap"))
    return Path(header.removeprefix("# ")), text


def test_dry_run_prints_a_hardened_unit_with_secrets_only_by_reference(
        capsys: pytest.CaptureFixture[str], password_file: Path, tmp_path: Path) -> None:
    path, unit = _dry_run(capsys, "--password-file", str(password_file), "--target", "systemd")
    assert path.name == "assistant-cli.service" and "systemd/user" in str(path)
    lines = unit.splitlines()
    for wanted in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                   "StandardInput=null", "WantedBy=default.target",
                   f"LoadCredential=assistant-cli-keyring-password:{password_file}"):
        assert wanted in lines
    assert SECRET not in unit and "KEYRING_PASSWORD=" not in unit
    assert not path.exists()  # a dry run writes nothing
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the unit was not verified")
    unit_file = tmp_path / "assistant-cli.service"
    unit_file.write_text(unit)
    done = subprocess.run(["systemd-analyze", "verify", str(unit_file)],
                          capture_output=True, text=True, timeout=60)
    # verify exits 0 even for unknown keys or bad values; it names the file when it objects
    assert done.returncode == 0 and str(unit_file) not in done.stderr, done.stderr


def test_launchd_agent_is_a_valid_plist_with_the_password_file_named(
        capsys: pytest.CaptureFixture[str], password_file: Path) -> None:
    path, text = _dry_run(capsys, "--password-file", str(password_file), "--target", "launchd")
    assert path.name == "io.github.assistant-cli.plist"
    agent = plistlib.loads(text.encode())
    assert agent["ProgramArguments"][-1] == "serve" and agent["RunAtLoad"] is True
    assert agent["EnvironmentVariables"]["ASSISTANT_CLI_KEYRING_PASSWORD_FILE"] == str(
        password_file)
    assert agent["StandardInPath"] == "/dev/null" and SECRET not in text


def test_a_secret_file_others_can_read_is_refused(
        capsys: pytest.CaptureFixture[str], password_file: Path) -> None:
    password_file.chmod(0o644)
    code, out, err = cli(capsys, "service", "install", "--dry-run", "--env-file",
                         str(password_file))
    assert code == 2 and out == ""
    assert "can be read by group or others" in err and "chmod 600" in err


def _stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, linger: str) -> Path:
    """systemctl and loginctl scripts that record their arguments."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for name, body in (("systemctl", ""), ("loginctl", f"echo Linger={linger}")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n{body}\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


def test_install_writes_enables_and_advises_linger_then_uninstall_removes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _stand_ins(tmp_path, monkeypatch, linger="no")
    code, out, err = cli(capsys, "service", "install", "--target", "systemd")
    assert code == 0, err
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / "assistant-cli.service"
    assert unit.is_file() and "ExecStart=" in unit.read_text()
    assert calls.read_text().splitlines()[:2] == [
        "systemctl --user daemon-reload", "systemctl --user enable --now assistant-cli.service"]
    assert "loginctl enable-linger" in out
    code, out, err = cli(capsys, "service", "uninstall", "--target", "systemd")
    assert code == 0, err
    assert not unit.exists()
    assert "systemctl --user disable --now assistant-cli.service" in calls.read_text()


def test_status_and_logs_run_the_service_managers_commands(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _stand_ins(tmp_path, monkeypatch, linger="yes")
    journal = tmp_path / "bin" / "journalctl"
    journal.write_text(f'#!/bin/sh\necho "journalctl $*" >> {calls}\n')
    journal.chmod(0o755)
    assert cli(capsys, "service", "status", "--target", "systemd")[0] == 0
    assert cli(capsys, "service", "logs", "--target", "systemd", "-n", "5")[0] == 0
    assert calls.read_text().splitlines() == [
        "systemctl --user status --no-pager assistant-cli.service",
        "journalctl --user -u assistant-cli.service -n 5 -f"]


def test_install_warns_when_the_service_could_not_open_the_encrypted_file(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant_cli.paths import resolve

    secrets_file = resolve().secrets_file
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    secrets_file.write_bytes(b"{}")
    monkeypatch.setenv("ASSISTANT_CLI_KEYRING_PASSWORD", "typed-in-this-shell")
    code, out, err = cli(capsys, "service", "install", "--dry-run")
    assert code == 0 and "pass --password-file PATH" in err
    assert "typed-in-this-shell" not in out + err
