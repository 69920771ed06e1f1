"""Exclusive process locks: one `serve` per state directory, one poller per bot token."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from assistant_cli.errors import AlreadyRunning, StateError


def acquire_lock(path: Any, what: str) -> IO[str]:
    """Hold an exclusive lock for the life of the process (released by the OS on death)."""
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until exit
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror}",
                         hint="check that the state directory is writable") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunning(
            f"{what} is already in use by `serve` (pid {holder})",
            hint="stop the other `assistant-cli serve` first, or use another "
            "ASSISTANT_CLI_HOME",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def machine_lock_path(kind: str, secret: str) -> Path:
    """A lock file shared by every user's `serve` on this machine, keyed by a secret's hash.

    The secret itself never touches the disk; only a truncated SHA-256 of it does.
    """
    digest = hashlib.sha256(secret.encode()).hexdigest()[:24]
    directory = Path(tempfile.gettempdir()) / "assistant-cli-locks"
    directory.mkdir(mode=0o1777, exist_ok=True)
    with_mode = directory.stat().st_mode & 0o7777
    if with_mode != 0o1777 and directory.stat().st_uid == os.getuid():
        directory.chmod(0o1777)
    return directory / f"{kind}-{digest}.lock"
