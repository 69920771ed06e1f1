"""Holding the state file's write lock from outside, as another process (a CLI command) would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the state file's write lock from another connection (like a busy CLI command)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
