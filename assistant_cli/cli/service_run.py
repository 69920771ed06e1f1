"""The service manager commands behind `assistant-cli service` (systemctl, launchctl, ...)."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

from assistant_cli.cli.service_units import AGENT_LABEL, UNIT_NAME


def _run(command: list[str]) -> None:
    from assistant_cli.errors import UsageError

    if shutil.which(command[0]) is None:
        raise UsageError(f"{command[0]} is not installed, so the service cannot be managed",
                         hint="use --dry-run to print the file and install it by hand")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"`{' '.join(command)}` failed: {done.stderr.strip() or done.stdout}",
                         hint="on Linux a user service needs a user session (log in once, "
                         "or `loginctl enable-linger`)")


def enable(kind: str, path: Path, *, run: bool) -> list[list[str]]:
    """The commands that load and start the written file (run them unless `run` is False)."""
    if kind == "systemd":
        commands = [["systemctl", "--user", "daemon-reload"],
                    ["systemctl", "--user", "enable", "--now", UNIT_NAME]]
    else:
        commands = [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(path)]]
    if run:
        for command in commands:
            _run(command)
    return commands


def disable(kind: str, path: Path) -> None:
    if kind == "systemd":
        _run(["systemctl", "--user", "disable", "--now", UNIT_NAME])
        path.unlink()
        _run(["systemctl", "--user", "daemon-reload"])
    else:
        _run(["launchctl", "bootout", f"gui/{os.getuid()}/{AGENT_LABEL}"])
        path.unlink()


def linger_advice() -> str | None:
    """Without lingering, a user's services stop at logout and start only at login."""
    user = getpass.getuser()
    if shutil.which("loginctl") is None:
        return None
    shown = subprocess.run(["loginctl", "show-user", user, "--property=Linger"],
                           capture_output=True, text=True, check=False).stdout
    if "Linger=yes" in shown:
        return None
    return (f"note: to keep it running after you log out and start it at boot, run once:\n"
            f"  sudo loginctl enable-linger {user}")


def status_command(kind: str) -> list[str]:
    if kind == "systemd":
        return ["systemctl", "--user", "status", "--no-pager", UNIT_NAME]
    return ["launchctl", "print", f"gui/{os.getuid()}/{AGENT_LABEL}"]


def logs_command(kind: str, lines: int, agent_log: Path) -> list[str]:
    if kind == "systemd":
        return ["journalctl", "--user", "-u", UNIT_NAME, "-n", str(lines), "-f"]
    return ["tail", "-n", str(lines), "-F", str(agent_log)]


def passthrough(command: list[str]) -> int:
    """Run a command with our terminal, returning its exit code (Ctrl-C ends it quietly)."""
    from assistant_cli.errors import UsageError

    if shutil.which(command[0]) is None:
        raise UsageError(f"{command[0]} is not installed here",
                         hint="is the service installed on this machine?")
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0
