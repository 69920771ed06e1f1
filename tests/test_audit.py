"""The audit log's HMAC chain catches edits, deletions and reordering."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app
from assistant_cli.paths import resolve
from assistant_cli.secrets import SecretStore
from assistant_cli.store.audit import AuditLog, key_from_store
from assistant_cli.store.db import Database


@pytest.fixture
def audit(isolated_home: Path) -> AuditLog:
    paths = resolve()
    db = Database(paths.database)
    log = AuditLog(db, key_from_store(SecretStore(paths, db)))
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
