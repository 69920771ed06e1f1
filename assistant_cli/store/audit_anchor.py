"""Copies of the audit chain's head kept outside the database: a file beside it, the keyring.

The `kv.audit_head` marker lives in the same file as the rows it vouches for, so deleting
both (or restoring an older copy of state.db) leaves nothing to compare with. An anchor
holds `ID:HEADMAC` of the newest entry, keyed like the chain, so it cannot be forged
without the audit key. Anchors only move forward along the chain they vouch for: an append
on a wiped or rolled-back log leaves them alone, so the evidence survives until someone
runs `assistant-cli audit verify --reanchor`.

On PostgreSQL several machines append to one chain, and each keeps its own anchors (a file
named after the database in its state dir, a keyring entry named after the URL without
password). An anchor moves when its machine appends, so it may lag behind the chain; it
still vouches for every entry up to its head (edits, deletions, a database restored to an
older copy), while newer entries are covered by the head marker in the database and the
anchors of the machines that wrote them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from assistant_cli.paths import atomic_write, ensure_dir
from assistant_cli.secrets.keyring_backend import SERVICE

ANCHOR_NAME = "audit_head"  # keyring entry prefix (internal: never listed or rotated)


class Anchor(Protocol):
    """One place outside the database that remembers the newest audit entry."""

    name: str

    def read(self) -> str | None: ...

    def write(self, value: str) -> None: ...


class FileAnchor:
    """`audit.head` beside state.db (for PostgreSQL, a file per database in the state dir)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"the anchor file {self.path.name}"

    def read(self) -> str | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def write(self, value: str) -> None:
        atomic_write(self.path, value.encode() + b"\n")


class KeyringAnchor:
    """The same value as an internal keyring entry (survives a wipe of the state dir).

    One entry per state database (named after its path, or its URL without password):
    several homes may share one OS keyring, and each must be compared with its own head only.
    """

    name = "the keyring anchor"

    def __init__(self, store: Any, db_key: str) -> None:
        self.store = store  # a SecretStore; its backend is chosen on first use
        where = hashlib.sha256(db_key.encode()).hexdigest()[:16]
        self.entry = f"{ANCHOR_NAME}.{where}"

    def read(self) -> str | None:
        value: str | None = self.store.backend.get_password(SERVICE, self.entry)
        return value or None

    def write(self, value: str) -> None:
        self.store.backend.set_password(SERVICE, self.entry, value)


def parse(value: str) -> tuple[int, str] | None:
    """(entry id, head MAC) of an anchor value, or None when it is not one."""
    head_id, _, mac = value.partition(":")
    return (int(head_id), mac) if head_id.isdigit() and mac else None


@contextlib.contextmanager
def anchor_lock(anchor_file: Path) -> Iterator[None]:
    """Serialise anchor updates across processes, so the newest head is written last."""
    ensure_dir(anchor_file.parent)  # a PostgreSQL state may not have made the state dir
    fd = os.open(anchor_file.with_name(anchor_file.name + ".lock"), os.O_RDWR | os.O_CREAT,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def any_recorded(anchors: list[Anchor]) -> bool:
    """True when some readable anchor holds a head (a log that was ever written)."""
    for anchor in anchors:
        with contextlib.suppress(Exception):
            if anchor.read():
                return True
    return False


def store_anchors(db: Any, secrets: Any) -> list[Anchor]:
    """The anchors of a state database (a store.db.Database): its file, and the keyring of
    a SecretStore."""
    return [FileAnchor(db.anchor_file), KeyringAnchor(secrets, db.anchor_key)]
