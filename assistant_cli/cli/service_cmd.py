"""`assistant-cli service`: run `serve` as a user service (systemd on Linux, launchd on macOS)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant_cli.cli.common import cli_state

app = typer.Typer(
    help="Install, remove and watch `serve` as a service that starts at boot: a systemd "
    "user unit on Linux, a launchd agent on macOS.\n\n"
    "Example: assistant-cli service install --dry-run", no_args_is_help=True,
    rich_markup_mode=None)

Target = Annotated[str | None, typer.Option(
    "--target", help="systemd or launchd (default: the one of this system).")]


def _target(value: str | None) -> str:
    from assistant_cli.errors import UsageError

    target = value or ("launchd" if sys.platform == "darwin" else "systemd")
    if target not in ("systemd", "launchd"):
        raise UsageError(f"--target {value!r} is not systemd or launchd",
                         hint="leave it out to use this system's service manager")
    return target


def _private_file(path: Path | None, option: str) -> Path | None:
    """A secret-bearing file the service reads: must exist and be readable by its owner only."""
    from assistant_cli.errors import UsageError

    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"{option} {path} does not exist",
                         hint=f"create it with mode 0600, e.g. `install -m 600 /dev/null {path}` "
                         "and write the value into it")
    if path.stat().st_mode & 0o077:
        raise UsageError(f"{option} {path} can be read by group or others "
                         f"(mode {path.stat().st_mode & 0o777:o})",
                         hint=f"run `chmod 600 {path}`: it holds a secret")
    return path


def _warn_without_password(paths: Any, password_file: Path | None) -> None:
    """Secrets in the encrypted file, but no password for the service: it would not start."""
    from assistant_cli.secrets import PASSWORD_ENV

    if password_file is None and paths.secrets_file.exists() and os.environ.get(PASSWORD_ENV):
        print(f"warning: your secrets are in the encrypted file {paths.secrets_file}, but the "
              f"service will not have {PASSWORD_ENV}; pass --password-file PATH (a 0600 file "
              "holding the password) so it can read them", file=sys.stderr)


@app.command()
def install(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the unit (or agent) and the commands; change nothing.")] = False,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", metavar="PATH",
        help="A 0600 file holding the encrypted secrets file's password; systemd passes it "
        "as a credential (LoadCredential=), never in the unit.")] = None,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", metavar="PATH",
        help="A 0600 file of NAME=value lines for env: references (EnvironmentFile=).")] = None,
    target: Target = None,
) -> None:
    """Write and start the service: a systemd user unit with hardening, or a launchd agent.

    Example: assistant-cli service install --password-file ~/.config/assistant-cli/keyring-pw
    """
    from assistant_cli.cli import service_units as units
    from assistant_cli.cli.service_run import enable, linger_advice

    kind = _target(target)
    state = cli_state(ctx)
    paths = state.paths
    spec = units.spec_for(paths, state.config_override,
                          password_file=_private_file(password_file, "--password-file"),
                          env_file=_private_file(env_file, "--env-file"))
    path = units.unit_path(kind)
    text = (units.systemd_unit(spec) if kind == "systemd"
            else units.launchd_agent(spec, paths.log_dir / "service.out"))
    _warn_without_password(paths, password_file)
    commands = enable(kind, path, run=not dry_run)
    if dry_run:
        print(f"# {path}\n{text}")
        print("# then:\n" + "\n".join(" ".join(c) for c in commands))
        return
    from assistant_cli.paths import atomic_write

    paths.ensure_state_dir()  # ReadWritePaths= needs it to exist
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode(), mode=0o644)
    enable(kind, path, run=True)
    print(f"installed and started {path}")
    if kind == "systemd":
        advice = linger_advice()
        if advice:
            print(advice)


@app.command()
def uninstall(target: Target = None) -> None:
    """Stop the service and remove its unit (or agent). Config and state stay.

    Example: assistant-cli service uninstall
    """
    from assistant_cli.cli import service_units as units
    from assistant_cli.cli.service_run import disable

    kind = _target(target)
    path = units.unit_path(kind)
    if not path.exists():
        print(f"no service installed ({path} does not exist)", file=sys.stderr)
        raise typer.Exit(1)
    disable(kind, path)
    print(f"stopped and removed {path}")


@app.command()
def status(target: Target = None) -> None:
    """Show whether the service runs (systemctl --user status / launchctl print).

    Example: assistant-cli service status
    """
    from assistant_cli.cli.service_run import passthrough, status_command

    raise typer.Exit(passthrough(status_command(_target(target))))


@app.command()
def logs(
    ctx: typer.Context,
    target: Target = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=0,
                                       help="How many recent lines first.")] = 50,
) -> None:
    """Follow what the service prints (journalctl --user -u / the agent's log file).

    The structured log is `assistant-cli logs -f`; this shows stdout/stderr of the service.

    Example: assistant-cli service logs -n 200
    """
    from assistant_cli.cli.service_run import logs_command, passthrough

    state = cli_state(ctx)
    raise typer.Exit(passthrough(logs_command(_target(target), lines,
                                              state.paths.log_dir / "service.out")))
