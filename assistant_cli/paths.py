"""Where assistant-cli keeps its config and state on disk.

Resolution order:
- `ASSISTANT_CLI_HOME=DIR`: config in DIR/config.yaml, state in DIR/state/.
- otherwise `$XDG_CONFIG_HOME/assistant-cli/` (default ~/.config) for config and
  `$XDG_STATE_HOME/assistant-cli/` (default ~/.local/state) for state.
`--config PATH` overrides only the config file location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "assistant-cli"


@dataclass(frozen=True)
class Paths:
    """The resolved locations for one run."""

    config_file: Path
    state_dir: Path

    @property
    def config_dir(self) -> Path:
        return self.config_file.parent

    @property
    def database(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "assistant-cli.jsonl"

    @property
    def secrets_file(self) -> Path:
        """The encrypted-file keyring, used only when no OS keyring is available."""
        return self.state_dir / "secrets.enc"

    @property
    def serve_lock(self) -> Path:
        return self.state_dir / "serve.lock"

    def ensure_state_dir(self) -> Path:
        """Create the state and log directories (mode 0700) and return the state dir."""
        for d in (self.state_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.state_dir


def resolve(config_override: str | os.PathLike[str] | None = None) -> Paths:
    """Resolve paths from the environment and an optional `--config` override."""
    env = os.environ
    home = env.get("ASSISTANT_CLI_HOME")
    if home:
        base = Path(home).expanduser()
        config_file = base / "config.yaml"
        state_dir = base / "state"
    else:
        user_home = Path.home()
        config_root = Path(env.get("XDG_CONFIG_HOME") or user_home / ".config")
        state_root = Path(env.get("XDG_STATE_HOME") or user_home / ".local" / "state")
        config_file = config_root / APP / "config.yaml"
        state_dir = state_root / APP
    if config_override is not None:
        config_file = Path(config_override).expanduser()
    return Paths(config_file=config_file, state_dir=state_dir)
