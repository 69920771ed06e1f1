"""The audit log: an append-only, HMAC-chained record of every admin action.

Each entry's MAC covers its own fields and the previous entry's MAC, keyed with a secret
kept in the keyring (`audit_hmac_key`), so editing, deleting or reordering rows breaks the
chain at the first altered entry, and nobody without the key can repair it. A keyed head
marker in `kv` also catches removal of the newest entries. Secret values never go in
(callers pass none; URLs in details lose any credentials they carry).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant_cli.store.db import Database

GENESIS = "0" * 64
KEY_NAME = "audit_hmac_key"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: float
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]


def os_actor() -> str:
    """The person at the keyboard, as the OS knows them."""
    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # no passwd entry in some containers
        return "os:unknown"


def scrub(value: Any) -> Any:
    """A detail value with credentials that URLs can carry (user:password@, ?key=) removed."""
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return "(unparsable URL removed)"
        if "@" in parts.netloc or parts.query or parts.fragment:
            netloc = parts.netloc.rpartition("@")[2]
            query = "(removed)" if parts.query else ""
            return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return value


def key_from_store(store: Any) -> Callable[[], bytes]:
    """A key provider over a SecretStore: reads `audit_hmac_key`, creating it on first use."""

    def provide() -> bytes:
        value = store.get(KEY_NAME)
        if not value:
            value = secrets.token_hex(32)
            store.set(KEY_NAME, value)
        return bytes.fromhex(value)

    return provide


class AuditLog:
    """Append and verify audit entries."""

    def __init__(self, db: Database, key: Callable[[], bytes]) -> None:
        self.db = db
        self._key_provider = key
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = self._key_provider()
        return self._key

    def _mac(self, prev: str, ts: float, actor: str, action: str, target: str, outcome: str,
             detail: str) -> str:
        payload = json.dumps([prev, repr(ts), actor, action, target, outcome, detail],
                             separators=(",", ":"))
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def _head_mac(self, last_id: int, last_mac: str) -> str:
        return hmac.new(self.key, f"head:{last_id}:{last_mac}".encode(),
                        hashlib.sha256).hexdigest()

    def append(self, action: str, target: str, outcome: str, *, actor: str | None = None,
               **detail: Any) -> int:
        """Record one action; returns the entry id."""
        _ = self.key  # fetch before taking the write lock: it may touch the keyring
        actor = actor or os_actor()
        detail_json = json.dumps(scrub(detail), sort_keys=True, separators=(",", ":"),
                                 default=str)
        ts = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = row["mac"] if row else GENESIS
            mac = self._mac(prev, ts, actor, action, target, outcome, detail_json)
            cur = conn.execute(
                "INSERT INTO audit (ts, actor, action, target, outcome, detail, prev_mac, mac)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ts, actor, action, target, outcome, detail_json, prev, mac),
            )
            entry_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO kv (key, value) VALUES ('audit_head', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"{entry_id}:{self._head_mac(entry_id, mac)}",),
            )
        return entry_id

    def entries(self, since: float | None = None) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT * FROM audit WHERE ts >= ? ORDER BY id", (since or 0.0,)
        ).fetchall()
        return [AuditEntry(r["id"], r["ts"], r["actor"], r["action"], r["target"],
                           r["outcome"], json.loads(r["detail"])) for r in rows]

    def verify(self) -> tuple[bool, str]:
        """Walk the chain; (True, summary) or (False, which entry is the first broken one)."""
        prev = GENESIS
        last_id, count = 0, 0
        for r in self.db.execute("SELECT * FROM audit ORDER BY id"):
            expected = self._mac(prev, r["ts"], r["actor"], r["action"], r["target"],
                                 r["outcome"], r["detail"])
            if r["prev_mac"] != prev:
                return False, (f"entry {r['id']} does not follow entry {last_id or 'start'}: "
                               "an entry before it was deleted or the order changed")
            if not hmac.compare_digest(expected, r["mac"]):
                return False, f"entry {r['id']} was altered (its MAC does not match)"
            prev, last_id, count = r["mac"], r["id"], count + 1
        head = self.db.execute("SELECT value FROM kv WHERE key = 'audit_head'").fetchone()
        if head is not None:
            head_id, _, head_mac = head["value"].partition(":")
            if int(head_id) != last_id or not hmac.compare_digest(
                head_mac, self._head_mac(last_id, prev)
            ):
                return False, (f"the log ends at entry {last_id or 'start'} but entry "
                               f"{head_id} was written: newest entries were removed")
        elif count:
            return False, "the chain head marker is missing"
        return True, f"{count} entries, chain intact"
