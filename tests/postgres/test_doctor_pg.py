"""doctor on a PostgreSQL state: reachable (time taken), TLS when the URL asks for it,
schema version, audit chain, lag of claims past their lease per replica; an unreachable
server fails with the URL masked, and nothing is said about a SQLite file not in use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant_cli.errors import StateError
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import open_audit
from assistant_cli.store.pg_db import PgDatabase
from tests.clirun import cli
from tests.doctor_support import outcomes, result
from tests.postgres.test_state_cmd import use_postgres

PASSWORD = "hunter2-not-shown"


@pytest.fixture
def pg_state(pg_url: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """config.yaml pointing at a migrated PostgreSQL state with two audit entries."""
    monkeypatch.setenv("TEST_PGPASSWORD", PASSWORD)
    use_postgres(isolated_home, pg_url)
    db = PgDatabase(pg_url, state_dir=resolve().state_dir)
    try:
        store = SecretStore(resolve(), db)
        store.set("api_key", "sk-test")  # its metadata goes to PostgreSQL
        audit = open_audit(db, store)
        audit.append("pairing.allow", "telegram:1", "ok")
        audit.append("pairing.allow", "telegram:2", "ok")
    finally:
        db.close()
    return pg_url


def test_a_healthy_postgres_state_passes_every_state_check(pg_state: str) -> None:
    found = outcomes("state")
    status = {k: o.result.status for k, o in found.items()}
    assert status["state.database"] == "ok" and status["state.migrations"] == "ok"
    assert status["state.audit"] == "ok" and status["state.undelivered"] == "ok"
    assert status["state.lag"] == "ok"
    assert "reachable in" in found["state.database"].result.found
    assert "not encrypted" in found["state.database"].result.found  # a local socket
    assert "2 entries, chain intact" in found["state.audit"].result.found
    assert not any("state.db" in o.result.found or "integrity" in o.result.found
                   for o in found.values())
    assert not resolve().database.exists()  # no SQLite file appeared


def test_secret_rotation_ages_come_from_postgres(pg_state: str) -> None:
    r = result("secrets.rotation")
    assert r.status == "ok" and "api_key 0 d" in r.found


def test_claims_past_their_lease_are_lag_per_replica(pg_state: str) -> None:
    db = PgDatabase(pg_state)
    try:
        with db.transaction() as conn:
            for i, (replica, age) in enumerate([("web-2", 120), ("web-2", 90), ("web-1", 2)]):
                conn.execute(
                    "INSERT INTO inbox (platform, external_id, conversation, chat_id, sender_id,"
                    " received_at, status, claimed_by, claimed_at, heartbeat_at)"
                    " VALUES ('telegram', ?, ?, 'c', 'u', 0, 'claimed', ?, 0,"
                    " extract(epoch from clock_timestamp()) - ?)", (str(i), f"c{i}", replica, age))
    finally:
        db.close()
    r = result("state.lag")
    assert r.status == "warn" and "web-2: 2 (oldest 12" in r.found and "web-1" not in r.found
    assert r.data["stale"] == {"web-2": 2}


def test_a_tampered_audit_chain_on_postgres_fails(pg_state: str) -> None:
    db = PgDatabase(pg_state)
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE audit SET actor = 'os:mallory' WHERE id = 1")
    finally:
        db.close()
    r = result("state.audit")
    assert r.status == "fail" and "entry 1 was altered" in r.found


def test_tls_asked_for_but_not_in_use_fails(pg_state: str, isolated_home: Path) -> None:
    """libpq does not encrypt a Unix socket even with sslmode=require: doctor says so."""
    use_postgres(isolated_home, pg_state + "&sslmode=require")
    r = result("state.database")
    assert r.status == "fail" and "not encrypted although sslmode=require" in r.found
    assert PASSWORD not in r.found


def test_a_newer_schema_is_reported_and_refused(pg_state: str) -> None:
    db = PgDatabase(pg_state)
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE schema_version SET version = 99")
    finally:
        db.close()
    r = result("state.migrations")
    assert r.status == "fail" and "schema version 99" in r.found
    with pytest.raises(StateError, match="newer assistant-cli"):
        PgDatabase(pg_state)


def test_an_unreachable_database_fails_masked_and_doctor_exits_non_zero(
        isolated_home: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PGPASSWORD", PASSWORD)
    use_postgres(isolated_home, "postgresql://assistant@127.0.0.1:1/assistant")
    found = outcomes("state")
    database = found["state.database"].result
    assert database.status == "fail" and "postgresql://assistant@127.0.0.1:1/assistant" in (
        database.found) and database.fix
    for dependant in ("state.migrations", "state.audit", "state.undelivered", "state.lag"):
        assert found[dependant].result.status == "skipped", dependant
    code, out, err = cli(capsys, "doctor", "--only", "state", "--json")
    assert code != 0 and PASSWORD not in out + err
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    assert checks["state.database"]["status"] == "fail"


def test_this_machines_anchor_catches_a_wiped_postgres_audit_log(pg_state: str) -> None:
    anchors = list(resolve().state_dir.glob("audit.postgres-*.head"))
    assert len(anchors) == 1  # the anchor of this database, beside no state.db
    db = PgDatabase(pg_state)
    try:
        with db.transaction() as conn:
            conn.execute("DELETE FROM audit")
            conn.execute("DELETE FROM kv WHERE key = 'audit_head'")
    finally:
        db.close()
    r = result("state.audit")
    assert r.status == "fail" and "wiped" in r.found


def test_a_full_local_disk_on_postgres_is_about_logs_not_the_inbox(
        pg_state: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    usage = shutil.disk_usage("/")
    monkeypatch.setattr("assistant_cli.doctor.state_checks.shutil.disk_usage",
                        lambda _: usage._replace(free=10 * 2**20))
    r = result("state.disk")
    assert r.status == "fail" and "the state itself is in PostgreSQL" in r.found
    assert "inbox" not in r.found
