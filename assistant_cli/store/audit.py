"""The audit log: an append-only, HMAC-chained record of every admin action.

Each entry's MAC covers its own fields and the previous entry's MAC, keyed with a secret
kept in the keyring (`audit_hmac_key`), so editing, deleting or reordering rows breaks the
chain at the first altered entry, and nobody without the key can repair it. A keyed head
marker in `kv` also catches removal of the newest entries, and copies of it outside the
database (`audit_anchor.py`: a file beside it, the keyring) catch a wipe of rows and marker
together, a truncation, or a rollback to an older copy. Secret values never go in
(callers pass none; URLs in details lose any credentials they carry).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from assistant_cli.errors import SecretError
from assistant_cli.store.audit_anchor import Anchor, anchor_lock, parse, store_anchors
from assistant_cli.store.db import Database

log = logging.getLogger("assistant_cli.audit")

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


def key_from_store(store: Any, db: Database | None = None) -> Callable[[], bytes]:
    """A key provider over a SecretStore: reads `audit_hmac_key`, creating it on first use.

    Not when `db` already holds entries: they were written with a key this keyring lacks
    (another machine sharing a PostgreSQL state, or a lost keyring), and a new key would
    fork the chain; the owner copies the key instead.
    """

    def provide() -> bytes:
        value = store.get(KEY_NAME)
        if not value:
            if db is not None and db.execute("SELECT 1 FROM audit LIMIT 1").fetchone():
                raise SecretError(
                    f"the audit log of {db.label} has entries, but {KEY_NAME!r} is not in "
                    "this machine's keyring, so new entries cannot join its chain",
                    hint=f"copy the key from a machine that has it: `keyring get "
                         f"assistant-cli {KEY_NAME} | assistant-cli secrets set {KEY_NAME}`")
            value = secrets.token_hex(32)
            store.set(KEY_NAME, value)
        return bytes.fromhex(value)

    return provide


def open_audit(db: Database, store: Any) -> AuditLog:
    """The audit log of a state database, keyed and anchored through a SecretStore."""
    return AuditLog(db, key_from_store(store, db), anchors=store_anchors(db, store))


class AuditLog:
    """Append and verify audit entries."""

    def __init__(self, db: Database, key: Callable[[], bytes],
                 anchors: Sequence[Anchor] = ()) -> None:
        self.db = db
        self._key_provider = key
        self._key: bytes | None = None
        self.anchors = list(anchors)

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
            self.db.serialize(conn, "audit")  # one chain, whichever replica appends
            row = conn.execute("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = row["mac"] if row else GENESIS
            mac = self._mac(prev, ts, actor, action, target, outcome, detail_json)
            entry_id = int(conn.execute(
                "INSERT INTO audit (ts, actor, action, target, outcome, detail, prev_mac, mac)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (ts, actor, action, target, outcome, detail_json, prev, mac),
            ).fetchone()[0])
            conn.execute(
                "INSERT INTO kv (key, value) VALUES ('audit_head', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"{entry_id}:{self._head_mac(entry_id, mac)}",),
            )
        self._advance_anchors()
        return entry_id

    def _db_head(self) -> tuple[int, str]:
        row = self.db.execute("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row["id"]), row["mac"]) if row else (0, GENESIS)

    def _on_chain(self, value: str | None) -> bool:
        """True when an anchor value vouches for an entry this log still has, unchanged."""
        parsed = parse(value) if value else None
        if parsed is None:
            return value is None  # never written: free to start
        row = self.db.execute("SELECT mac FROM audit WHERE id = ?", (parsed[0],)).fetchone()
        return row is not None and hmac.compare_digest(
            parsed[1], self._head_mac(parsed[0], row["mac"]))

    def _advance_anchors(self, *, force: bool = False) -> None:
        """Copy the head outside the database, after the commit (a crash leaves an anchor
        behind the log, which verifies; never ahead of it, which would be a false alarm)."""
        if not self.anchors:
            return
        with anchor_lock(self.db.anchor_file):
            head_id, head_mac = self._db_head()
            value = f"{head_id}:{self._head_mac(head_id, head_mac)}"
            for anchor in self.anchors:
                try:
                    if force or self._on_chain(anchor.read()):
                        anchor.write(value)
                except Exception as exc:  # the action is recorded; the copy lags until next
                    log.warning("could not update %s of the audit log: %s", anchor.name, exc,
                                extra={"event": "audit.anchor_failed"})

    def reanchor(self) -> None:
        """Accept the log as it is now (after investigating a reported break)."""
        self._advance_anchors(force=True)
        self.append("audit.reanchor", "audit", "ok")

    def entries(self, since: float | None = None) -> list[AuditEntry]:
        rows = self.db.execute(
            "SELECT * FROM audit WHERE ts >= ? ORDER BY id", (since or 0.0,)
        ).fetchall()
        return [AuditEntry(r["id"], r["ts"], r["actor"], r["action"], r["target"],
                           r["outcome"], json.loads(r["detail"])) for r in rows]

    def verify(self) -> tuple[bool, str]:
        """Walk the chain and compare it with its anchors; (True, summary) or (False, what
        is broken: the first altered entry, or a wipe, truncation or rollback)."""
        intact, summary, macs = self._verify_chain()
        if intact:
            problem = self._verify_anchors(macs)
            if problem:
                return False, problem
        return intact, summary

    def _verify_anchors(self, macs: dict[int, str]) -> str | None:
        last_id = max(macs, default=0)
        for anchor in self.anchors:
            try:
                value = anchor.read()
            except Exception:
                continue  # an unreadable keyring is reported by its own doctor check
            parsed = parse(value) if value else None
            if value and parsed is None:
                return f"{anchor.name} is not an audit head: it was overwritten"
            if parsed is None or parsed[0] == 0:
                continue  # nothing written yet, or accepted while empty
            head_id, head_mac = parsed
            if head_id > last_id:
                what = ("the log is empty" if not macs else f"the log ends at entry {last_id}")
                how = "wiped" if not macs else "truncated or rolled back to an older copy"
                return (f"{what} but {anchor.name} records entry {head_id}: "
                        f"the audit log was {how}")
            if not hmac.compare_digest(head_mac, self._head_mac(head_id, macs[head_id])):
                return (f"entry {head_id} differs from the one {anchor.name} records: "
                        "the log was rolled back to an older copy or replaced")
        return None

    def _verify_chain(self) -> tuple[bool, str, dict[int, str]]:
        prev = GENESIS
        last_id, count = 0, 0
        macs: dict[int, str] = {}
        for r in self.db.execute("SELECT * FROM audit ORDER BY id"):
            expected = self._mac(prev, r["ts"], r["actor"], r["action"], r["target"],
                                 r["outcome"], r["detail"])
            if r["prev_mac"] != prev:
                return False, (f"entry {r['id']} does not follow entry {last_id or 'start'}: "
                               "an entry before it was deleted or the order changed"), macs
            if not hmac.compare_digest(expected, r["mac"]):
                return False, f"entry {r['id']} was altered (its MAC does not match)", macs
            prev, last_id, count = r["mac"], r["id"], count + 1
            macs[last_id] = prev
        head = self.db.execute("SELECT value FROM kv WHERE key = 'audit_head'").fetchone()
        if head is not None:
            head_id, _, head_mac = head["value"].partition(":")
            if int(head_id) != last_id or not hmac.compare_digest(
                head_mac, self._head_mac(last_id, prev)
            ):
                return False, (f"the log ends at entry {last_id or 'start'} but entry "
                               f"{head_id} was written: newest entries were removed"), macs
        elif count:
            return False, "the chain head marker is missing", macs
        return True, f"{count} entries, chain intact", macs
