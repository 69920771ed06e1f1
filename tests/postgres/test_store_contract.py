"""The sync stores' contract on both backends (SQLite file, real PostgreSQL): pairing, the
audit chain (verify, tamper detection, appends from several replicas), usage, kv, history.
Each test runs twice through the `state_db` fixture (tests/postgres/conftest.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from assistant_cli.errors import PairingError
from assistant_cli.store.audit import AuditLog
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.kv import NamespacedKV, language_store
from assistant_cli.store.pairing import MAX_FAILED, PairingStore
from assistant_cli.store.usage import HealthLog, UsageLedger, utc_day
from tests.postgres.conftest import OpenDb

KEY = b"k" * 32


def audit(db: Database) -> AuditLog:
    return AuditLog(db, lambda: KEY)


def test_both_backends_report_the_current_schema(state_db: Database) -> None:
    from assistant_cli.store.migrations import MIGRATIONS

    assert state_db.schema_version == len(MIGRATIONS)
    assert state_db.backend in ("sqlite", "postgresql")


# -- pairing ---------------------------------------------------------------------------
def test_pairing_code_approves_a_sender_once(state_db: Database) -> None:
    store = PairingStore(state_db)
    code = store.request_code("telegram", "42", "chat42", "Ann")
    assert code is not None and store.request_code("telegram", "42", "chat42") is None
    assert [r.user_id for r in store.pending()] == ["42"]
    assert [r.user_id for r in store.pending("whatsapp")] == []
    store.approve("telegram", "42", code.lower(), "os:me")
    assert store.is_approved("telegram", "42")
    assert [(s.user_id, s.chat_id, s.via) for s in store.senders()] == [("42", "chat42", "code")]
    assert store.count_senders() == 1 and store.count_senders("telegram") == 1
    assert store.count_senders("whatsapp") == 0
    assert [s.user_id for s in store.unnotified()] == ["42"]
    assert store.claim_notice("telegram", "42") is True
    assert store.claim_notice("telegram", "42") is False


def test_pairing_lists_page_and_allow_is_idempotent(state_db: Database) -> None:
    store = PairingStore(state_db, clock=iter(range(1000, 2000)).__next__)
    for user in ("a", "b", "c"):
        assert store.allow("telegram", user, "os:me") is True
    assert store.allow("telegram", "a", "os:me") is False
    assert [s.user_id for s in store.senders(limit=2)] == ["a", "b"]
    assert [s.user_id for s in store.senders(limit=2, offset=2)] == ["c"]
    assert store.revoke("telegram", "b") and not store.revoke("telegram", "b")
    assert [s.user_id for s in store.senders("telegram")] == ["a", "c"]


def test_wrong_codes_lock_a_request_across_replicas(open_state_db: OpenDb) -> None:
    """Lockouts live in the database: wrong codes tried on two replicas add up."""
    one, two = PairingStore(open_state_db()), PairingStore(open_state_db())
    code = one.request_code("telegram", "7", "c7")
    assert code is not None
    for attempt in range(MAX_FAILED):
        with pytest.raises(PairingError):
            (one if attempt % 2 else two).approve("telegram", "7", "WRONG-CODE-XX", "os:me")
    with pytest.raises(PairingError, match="locked"):
        one.approve("telegram", "7", code, "os:me")
    assert two.request_code("telegram", "7", "c7") is None  # a locked request sticks
    assert not two.is_approved("telegram", "7")


def test_a_code_issued_on_one_replica_is_approved_on_another(open_state_db: OpenDb) -> None:
    one, two = PairingStore(open_state_db()), PairingStore(open_state_db())
    code = one.request_code("whatsapp", "99", "99")
    assert code is not None
    two.approve("whatsapp", "99", code, "os:me")
    assert one.is_approved("whatsapp", "99")


def test_replicas_asked_at_once_issue_one_code_per_sender(open_state_db: OpenDb) -> None:
    """Four replicas get a message of one unknown sender at the same moment: one code."""
    stores = [PairingStore(open_state_db()) for _ in range(4)]
    codes: list[str | None] = []
    barrier = threading.Barrier(4)

    def ask(store: PairingStore) -> None:
        barrier.wait()
        codes.append(store.request_code("telegram", "5", "c5"))

    threads = [threading.Thread(target=ask, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([c for c in codes if c]) == 1 and len(codes) == 4
    assert [r.user_id for r in stores[0].pending()] == ["5"]


# -- audit -----------------------------------------------------------------------------
def test_audit_chain_verifies_and_names_an_altered_entry(state_db: Database) -> None:
    log = audit(state_db)
    ids = [log.append("pairing.approve", f"telegram:{i}", "ok", url="https://u:p@x/y?k=1")
           for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert log.verify() == (True, "3 entries, chain intact")
    assert log.entries()[0].detail == {"url": "https://x/y?(removed)"}
    with state_db.transaction() as conn:
        conn.execute("UPDATE audit SET target = 'telegram:evil' WHERE id = ?", (ids[1],))
    assert log.verify() == (False, f"entry {ids[1]} was altered (its MAC does not match)")


def test_audit_detects_a_deleted_middle_entry_and_a_truncated_tail(state_db: Database) -> None:
    log = audit(state_db)
    ids = [log.append("a", "t", "ok", n=i) for i in range(4)]
    with state_db.transaction() as conn:
        conn.execute("DELETE FROM audit WHERE id = ?", (ids[3],))
    intact, summary = log.verify()
    assert not intact and "newest entries were removed" in summary
    with state_db.transaction() as conn:
        conn.execute("DELETE FROM audit WHERE id = ?", (ids[1],))
    intact, summary = log.verify()
    assert not intact and summary.startswith(f"entry {ids[2]} does not follow")


def test_audit_appends_from_several_replicas_make_one_chain(open_state_db: OpenDb) -> None:
    """Four replicas (own connections or pools) append at once: one linear chain."""
    logs = [audit(open_state_db()) for _ in range(4)]
    errors: list[BaseException] = []

    def append(log: AuditLog, who: int) -> None:
        try:
            for i in range(10):
                log.append("test.append", f"w{who}", "ok", i=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(logs[n], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert logs[1].verify() == (True, "40 entries, chain intact")
    assert len(logs[0].entries()) == 40


def test_audit_anchor_catches_a_wipe_of_rows_and_marker(state_db: Database,
                                                          tmp_path: object) -> None:
    from assistant_cli.store.audit_anchor import FileAnchor

    anchor = FileAnchor(state_db.anchor_file)
    log = AuditLog(state_db, lambda: KEY, anchors=[anchor])
    log.append("a", "t", "ok")
    log.append("b", "t", "ok")
    assert anchor.read() is not None and log.verify()[0]
    with state_db.transaction() as conn:
        conn.execute("DELETE FROM audit")
        conn.execute("DELETE FROM kv WHERE key = 'audit_head'")
    intact, summary = log.verify()
    assert not intact and "wiped" in summary


# -- usage, kv, history ----------------------------------------------------------------
def test_usage_sums_per_provider_and_sender(state_db: Database) -> None:
    ledger = UsageLedger(state_db, clock=lambda: 86400 * 20000.5)

    async def record() -> None:
        await ledger.record("openai", "telegram:1", 10, 5)
        await ledger.record("openai", "telegram:1", 1, 1, estimated=True)
        await ledger.record("anthropic", "telegram:2", 7, 0)

    asyncio.run(record())
    assert ledger.used_today("telegram:1") == 17
    by_provider = {r.key: (r.requests, r.total, r.estimated) for r in ledger.totals("provider")}
    assert by_provider == {"anthropic": (1, 7, 0), "openai": (2, 17, 1)}
    assert all(type(r.requests) is int for r in ledger.totals("sender"))
    assert utc_day(86400 * 20000.5) == "2024-10-04"


def test_provider_health_keeps_the_latest_outcome(state_db: Database) -> None:
    health = HealthLog(state_db, source="test", clock=lambda: 100.0)
    health.record("openai", False, kind="auth", status=401, detail="bad key")
    health.record("openai", True, latency_ms=12.5)
    latest = health.latest()["openai"]
    assert (latest.ok, latest.kind, latest.latency_ms, latest.source) == (True, None, 12.5, "test")


def test_kv_namespaces_and_literal_percent_and_underscore(state_db: Database) -> None:
    kv = NamespacedKV(state_db, "plugin:x")
    kv.set("a%b", "1")
    kv.set("a_c", "2")
    kv.set("b", "3")
    NamespacedKV(state_db, "plugin:xy").set("a", "other")
    assert kv.keys() == ["a%b", "a_c", "b"]
    assert kv.keys("a") == ["a%b", "a_c"]
    assert kv.get("a%b") == "1" and kv.get("zz", "d") == "d"
    assert kv.delete("b") and not kv.delete("b")
    language_store(state_db).set("telegram:1", "de")
    assert language_store(state_db).get("telegram:1") == "de"


def test_history_keeps_the_last_turns_in_order(state_db: Database) -> None:
    history = History(state_db)
    with state_db.transaction() as conn:
        History.append_exchange(conn, "s1", "q1", "a1", 0)
        History.append_exchange(conn, "s1", "q2", "a2", 0)
        History.append_exchange(conn, "s2", "x", "y", 0)
    assert [t.content for t in history.recent("s1", 3)] == ["a1", "q2", "a2"]
    assert history.count("s1") == 4 and history.recent("s1", 0) == []
    assert history.clear("s1") == 4 and history.count("s1") == 0 and history.count("s2") == 2


def test_a_failed_transaction_leaves_nothing(state_db: Database) -> None:
    kv = NamespacedKV(state_db, "t")
    with pytest.raises(RuntimeError), state_db.transaction() as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES (?, ?)", ("t:k", "v"))
        raise RuntimeError("boom")
    assert kv.get("k") is None


def test_a_machine_without_the_audit_key_does_not_fork_the_chain(state_db: Database) -> None:
    """A second machine on the same database with its own keyring: no new key, no fork."""
    from assistant_cli.errors import SecretError
    from assistant_cli.paths import resolve
    from assistant_cli.secrets.store import SecretStore
    from assistant_cli.store.audit import KEY_NAME, open_audit

    store = SecretStore(resolve(), state_db)
    open_audit(state_db, store).append("pairing.allow", "telegram:1", "ok")
    key = store.get(KEY_NAME)
    store.delete(KEY_NAME)  # as seen from a machine whose keyring never had it
    with pytest.raises(SecretError, match="secrets set audit_hmac_key"):
        open_audit(state_db, store).append("pairing.allow", "telegram:2", "ok")
    assert store.get(KEY_NAME) is None
    store.set(KEY_NAME, key or "")  # copied over, as the hint says
    open_audit(state_db, store).append("pairing.allow", "telegram:2", "ok")
    assert open_audit(state_db, store).verify() == (True, "2 entries, chain intact")
