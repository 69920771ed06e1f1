"""Where assistant-cli keeps its config and state on disk.

Resolution order:
- `ASSISTANT_CLI_HOME=DIR`: config in DIR/config.yaml, state in DIR/state/.
- otherwise `$XDG_CONFIG_HOME/assistant-cli/` (default ~/.config) for config and
  `$XDG_STATE_HOME/assistant-cli/` (default ~/.local/state) for state.
`--config PATH` overrides only the config file location.

tempfile is imported inside functions: `--help` passes through this module.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path

from assistant_cli.errors import StateError

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
        """Create the state and log directories (mode 0700) and return the state dir.

        Raises StateError naming the directory and the fix when it cannot be made.
        """
        for d in (self.state_dir, self.log_dir):
            ensure_dir(d)
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


def ensure_dir(directory: Path) -> Path:
    """Create `directory` (mode 0700) if needed and check it is a writable directory.

    Every way this can fail becomes one StateError that names the path and the fix, so a
    state directory that is a file, read-only or on a full disk never shows a traceback.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _dir_error(directory, exc) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StateError(f"the directory {directory} is not writable",
                         hint=f"run `chmod u+rwx {directory}`, or set ASSISTANT_CLI_HOME to a "
                         "writable directory")
    return directory


def _dir_error(directory: Path, exc: OSError) -> StateError:
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        # Something on the way is a file: name the first one, not only the leaf.
        blocker = next((p for p in (directory, *directory.parents)
                        if p.exists() and not p.is_dir()), directory)
        return StateError(f"{blocker} is a file, but assistant-cli needs a directory there",
                          hint=f"move {blocker} aside, or set ASSISTANT_CLI_HOME to another "
                          "directory")
    return StateError(f"cannot create the directory {directory}: {exc.strerror or exc}",
                      hint="make its parent writable, or set ASSISTANT_CLI_HOME to a writable "
                      "directory")


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never a mix.

    The temporary file sits next to `path` (a rename is atomic only within one file
    system) and is fsynced before the rename; the directory is fsynced after it, so the
    new content survives power loss too. Raises OSError; callers name what was written.
    """
    import tempfile  # costs `--help`, which passes through this module, a few ms

    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform can open a directory for this
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
