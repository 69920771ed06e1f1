"""What `assistant-cli service` writes: a systemd user unit (Linux) or a launchd agent (macOS).

Pure text from a `ServiceSpec`, so `--dry-run` and the tests see exactly what would be
installed. Secrets never appear in either file: the encrypted file's password reaches the
service as a systemd credential (LoadCredential=) or through an EnvironmentFile that only
its owner can read; on macOS through a 0600 password file named in the agent's environment.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from assistant_cli.paths import Paths
from assistant_cli.secrets.keyring_backend import CREDENTIAL_NAME, PASSWORD_FILE_ENV

UNIT_NAME = "assistant-cli.service"
AGENT_LABEL = "io.github.assistant-cli"


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a unit or an agent needs to start `serve` the way this shell would."""

    command: list[str]
    state_dir: Path
    environment: dict[str, str] = field(default_factory=dict)
    password_file: Path | None = None
    env_file: Path | None = None


def serve_command(config_override: str | None) -> list[str]:
    """`serve` through the executable next to this interpreter (a venv, pipx or uv tool)."""
    script = Path(sys.executable).parent / "assistant-cli"
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "assistant_cli"]
    extra = ["--config", str(Path(config_override).resolve())] if config_override else []
    return [*base, *extra, "serve"]


def spec_for(paths: Paths, config_override: str | None, *, password_file: Path | None,
             env_file: Path | None) -> ServiceSpec:
    # Only where-things-live settings are copied, never a secret from this environment.
    env = {k: os.environ[k] for k in ("ASSISTANT_CLI_HOME", "XDG_CONFIG_HOME",
                                      "XDG_STATE_HOME", "PYTHON_KEYRING_BACKEND")
           if os.environ.get(k)}
    return ServiceSpec(serve_command(config_override), paths.state_dir, env,
                       password_file.resolve() if password_file else None,
                       env_file.resolve() if env_file else None)


def _quote(arg: str) -> str:
    """systemd's command-line quoting: double quotes, with \\ and " escaped, % doubled."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in ' \t"\'\\;$'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(spec: ServiceSpec) -> str:
    lines = [
        "# Written by `assistant-cli service install`; no secrets in this file.",
        "[Unit]",
        "Description=assistant-cli: self-hosted AI assistant gateway",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_quote(a) for a in spec.command),
        # No terminal: serve runs without the console channel and says so in its log.
        "StandardInput=null",
        "Restart=on-failure",
        "RestartSec=5",
        # The first SIGTERM lets answers in progress finish (up to the engine's grace).
        "TimeoutStopSec=45",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        f"ReadWritePaths=-{_quote(str(spec.state_dir))}",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ]
    lines += [f"Environment={_quote(f'{k}={v}')}" for k, v in sorted(spec.environment.items())]
    if spec.password_file is not None:
        # Read by serve from $CREDENTIALS_DIRECTORY; never in the unit or the environment.
        lines.append(f"LoadCredential={CREDENTIAL_NAME}:{_quote(str(spec.password_file))}")
    if spec.env_file is not None:
        lines.append(f"EnvironmentFile={_quote(str(spec.env_file))}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def launchd_agent(spec: ServiceSpec, log_file: Path) -> str:
    env = dict(spec.environment)
    if spec.password_file is not None:
        env[PASSWORD_FILE_ENV] = str(spec.password_file)
    args = "\n".join(f"    <string>{escape(a)}</string>" for a in spec.command)
    env_xml = "\n".join(f"    <key>{escape(k)}</key><string>{escape(v)}</string>"
                        for k, v in sorted(env.items()))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `assistant-cli service install`; no secrets in this file. -->
<plist version="1.0">
<dict>
  <key>Label</key><string>{AGENT_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
{env_xml}
  </dict>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
  <key>ProcessType</key><string>Background</string>
  <key>Umask</key><integer>63</integer>
  <key>StandardInPath</key><string>/dev/null</string>
  <key>StandardOutPath</key><string>{escape(str(log_file))}</string>
  <key>StandardErrorPath</key><string>{escape(str(log_file))}</string>
</dict>
</plist>
"""


def unit_path(kind: str) -> Path:
    home = Path.home()
    if kind == "launchd":
        return home / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return config / "systemd" / "user" / UNIT_NAME
