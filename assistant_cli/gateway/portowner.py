"""Which process listens on a TCP port, for the "port already in use" error (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) <= 9 or parts[3] != LISTEN:
                continue
            if int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def who_listens(port: int, proc: Path = Path("/proc")) -> str | None:
    """`pid 1234 (python -m http.server 8080)` for the listener on `port`, or None when it
    cannot be told (another user's process, or no /proc)."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    cmd = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                    return f"pid {pid_dir.name} ({cmd.decode(errors='replace')[:120]})"
            except OSError:
                continue
    return None
