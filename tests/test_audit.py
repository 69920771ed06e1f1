"""The audit log's HMAC chain catches edits, deletions and reordering."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app
from assistant_cli.errors import UsageError
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import AuditLog, key_from_store, open_audit
from assistant_cli.store.db import Database


@pytest.fixture
def audit(isolated_home: Path) -> AuditLog:
    paths = resolve()
    db = Database(paths.database)
    log = open_audit(db, SecretStore(paths, db))
    for i in range(4):
        log.append("pairing.allow", f"telegram:{i}", "ok", actor="os:tester")
    return log


def test_intact_chain_verifies(audit: AuditLog) -> None:
    assert audit.verify() == (True, "4 entries, chain intact")


def test_edited_row_is_named(audit: AuditLog) -> None:
    audit.db.execute("UPDATE audit SET outcome = 'refused' WHERE id = 2")
    ok, why = audit.verify()
    assert not ok and why.startswith("entry 2 was altered")


def test_deleted_row_is_detected(audit: AuditLog) -> None:
    audit.db.execute("DELETE FROM audit WHERE id = 2")
    ok, why = audit.verify()
    assert not ok and why.startswith("entry 3 does not follow entry 1")


def test_deleted_newest_row_is_detected(audit: AuditLog) -> None:
    audit.db.execute("DELETE FROM audit WHERE id = 4")
    ok, why = audit.verify()
    assert not ok and "newest entries were removed" in why


def test_reordered_rows_are_detected(audit: AuditLog) -> None:
    db = audit.db
    db.execute("UPDATE audit SET id = 100 WHERE id = 2")
    db.execute("UPDATE audit SET id = 2 WHERE id = 3")
    db.execute("UPDATE audit SET id = 3 WHERE id = 100")
    ok, why = audit.verify()
    assert not ok and why.startswith("entry 2 does not follow entry 1")


def test_entry_forged_without_the_key_is_detected(audit: AuditLog) -> None:
    forger = AuditLog(audit.db, lambda: b"not-the-key")
    forger.append("pairing.allow", "telegram:666", "ok")
    assert not audit.verify()[0]


def test_cli_verify_exits_1_and_names_the_entry(audit: AuditLog) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    listed = runner.invoke(app, ["audit", "list", "--json"])
    assert listed.output.count('"action": "pairing.allow"') == 4
    audit.db.execute("UPDATE audit SET target = 'telegram:9' WHERE id = 3")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and "entry 3 was altered" in result.output


def _wipe(db: Database) -> None:
    db.execute("DELETE FROM audit")
    db.execute("DELETE FROM kv WHERE key = 'audit_head'")


def test_wiped_log_and_head_marker_are_detected(audit: AuditLog) -> None:
    _wipe(audit.db)
    ok, why = audit.verify()
    assert not ok and "wiped" in why and "entry 4" in why
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and "wiped" in result.output


def test_wipe_is_caught_by_the_keyring_anchor_when_the_file_is_gone(audit: AuditLog) -> None:
    anchor_file = audit.db.path.with_name("audit.head")
    assert anchor_file.exists()
    anchor_file.unlink()
    _wipe(audit.db)
    ok, why = audit.verify()
    assert not ok and "keyring" in why


def test_rollback_to_an_older_copy_is_detected_and_not_erased_by_new_entries(
        audit: AuditLog) -> None:
    db_path = audit.db.path
    old = db_path.with_name("old.db")
    audit.db.execute(f"VACUUM INTO '{old}'")
    audit.append("pairing.revoke", "telegram:0", "ok")
    audit.db.close()
    old.replace(db_path)
    for extra in db_path.parent.glob("state.db-*"):
        extra.unlink()
    rolled = open_audit(Database(db_path), SecretStore(resolve()))
    ok, why = rolled.verify()
    assert not ok and "rolled back" in why
    rolled.append("pairing.allow", "telegram:7", "ok")  # must not re-anchor on the old copy
    ok, why = rolled.verify()
    assert not ok and "entry 5" in why


def test_reanchor_accepts_the_current_log_after_investigation(audit: AuditLog) -> None:
    _wipe(audit.db)
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 1
    result = runner.invoke(app, ["audit", "verify", "--reanchor"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert [e.action for e in audit.entries()] == ["audit.reanchor"]


def test_every_pairing_command_is_audited_with_the_os_user_refusals_too(
        isolated_home: Path) -> None:
    from assistant_cli.store.audit import os_actor
    from assistant_cli.store.pairing import PairingStore

    paths = resolve()
    db = Database(paths.database)
    PairingStore(db).request_code("telegram", "123456789", "123456789", "Alice")
    runner = CliRunner()
    who = ["--platform", "telegram", "--user-id", "123456789"]
    assert runner.invoke(app, ["pairing", "deny", *who]).exit_code == 0
    assert runner.invoke(app, ["pairing", "deny", *who]).exit_code == 1  # nothing pending now
    assert runner.invoke(app, ["pairing", "allow", *who]).exit_code == 0
    assert runner.invoke(app, ["pairing", "revoke", *who]).exit_code == 0
    log = AuditLog(db, key_from_store(SecretStore(paths, db)))
    assert [(e.action, e.outcome) for e in log.entries()] == [
        ("pairing.deny", "ok"), ("pairing.deny", "refused"), ("pairing.allow", "ok"),
        ("pairing.revoke", "ok")]
    assert {e.actor for e in log.entries()} == {os_actor()}
    assert "no pending pairing request" in log.entries()[1].detail["reason"]


def test_urls_in_details_lose_their_credentials(audit: AuditLog) -> None:
    entry_id = audit.append("providers.add", "p", "ok",
                            base_url="https://user:s3cret@llm.example/v1?key=s3cret#frag",
                            plain="https://llm.example/v1", urls=["http://a:s3cret@h/"])
    (entry,) = [e for e in audit.entries() if e.id == entry_id]
    assert "s3cret" not in str(entry.detail)
    assert entry.detail["base_url"] == "https://llm.example/v1?(removed)"
    assert entry.detail["plain"] == "https://llm.example/v1"
    assert audit.verify()[0]


def test_list_since_takes_durations_and_local_iso_times(
        audit: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt
    import json
    import time


    now = time.time()
    for age, target in [(7200, "two-hours-ago"), (60, "a-minute-ago")]:
        with monkeypatch.context() as m:
            m.setattr("assistant_cli.store.audit.time.time", lambda age=age: now - age)
            audit.append("secret.set", target, "ok")
    audit.db.execute("DELETE FROM audit WHERE action = 'pairing.allow'")  # list doesn't verify
    runner = CliRunner()

    def targets(since: str) -> list[str]:
        out = runner.invoke(app, ["audit", "list", "--since", since, "--json"])
        assert out.exit_code == 0, out.output
        return [e["target"] for e in json.loads(out.stdout)["entries"]]

    assert targets("10m") == ["a-minute-ago"]
    assert targets("3h") == ["two-hours-ago", "a-minute-ago"]
    # A time as `audit list` prints it (local, no offset), in a zone that is not UTC.
    try:
        with monkeypatch.context() as m:
            m.setenv("TZ", "Etc/GMT-5")
            time.tzset()
            local = dt.datetime.fromtimestamp(now - 3600).strftime("%Y-%m-%d %H:%M:%S")
            assert targets(local) == ["a-minute-ago"]
    finally:
        time.tzset()
    bad = runner.invoke(app, ["audit", "list", "--since", "yesterday"])
    assert isinstance(bad.exception, UsageError) and "10m" in str(bad.exception)


def test_two_state_homes_sharing_one_keyring_do_not_flag_each_other(
        audit: AuditLog, tmp_path: Path) -> None:
    other_db = Database(tmp_path / "elsewhere" / "state.db")
    other = open_audit(other_db, SecretStore(resolve(), other_db))
    other.append("pairing.allow", "telegram:9", "ok")
    audit.append("pairing.allow", "telegram:5", "ok")
    assert other.verify()[0] and audit.verify()[0]
