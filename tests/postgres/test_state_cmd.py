"""`assistant-cli state info|migrate` and the other commands against a real PostgreSQL:
the state section of config.yaml picks the backend, errors name the URL with its password
masked and exit 2, and a 100,000-message SQLite state is copied with its audit chain."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import KEY_NAME, AuditLog, open_audit
from assistant_cli.store.db import Database
from assistant_cli.store.pg_db import PgDatabase
from tests.clirun import cli


def no_password(url: str) -> str:
    return url.replace("postgres:@", "postgres@")  # trust auth: the test server needs none


def use_postgres(home: Path, url: str, password: str | None = "env:TEST_PGPASSWORD") -> None:
    """config.yaml with only a state section pointing at `url`."""
    config = resolve().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    lines = ["state:", f"  url: '{no_password(url)}'"]
    if password:
        lines.append(f"  password: {password}")
    config.write_text("\n".join(lines) + "\n")


@pytest.fixture
def on_postgres(pg_url: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_PGPASSWORD", "any (trust auth)")
    use_postgres(isolated_home, pg_url)
    return pg_url


def test_pairing_audit_and_info_run_against_postgres(
        on_postgres: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "pairing", "allow", "--platform", "telegram", "--user-id", "42")[0] == 0
    code, out, _ = cli(capsys, "pairing", "list", "--json")
    assert code == 0 and [s["user_id"] for s in json.loads(out)["approved"]] == ["42"]
    code, out, _ = cli(capsys, "audit", "verify")
    assert code == 0 and "1 entries, chain intact" in out
    code, out, _ = cli(capsys, "state", "info", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["backend"] == "postgresql" and doc["rows"]["senders"] == 1
    assert doc["schema_version"] == doc["latest_schema"] and doc["size_bytes"] > 0
    db = PgDatabase(on_postgres)  # the commands wrote to PostgreSQL, not to a SQLite file
    try:
        assert int(db.execute("SELECT COUNT(*) FROM senders").fetchone()[0]) == 1
    finally:
        db.close()
    assert not resolve().database.exists()


def test_state_info_lists_replicas_seen_recently(
        on_postgres: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = PgDatabase(on_postgres)
    try:
        with db.transaction() as conn:
            for i, (replica, age) in enumerate([("web-1", 5), ("web-2", 20), ("old", 4000)]):
                conn.execute(
                    "INSERT INTO inbox (platform, external_id, conversation, chat_id, sender_id,"
                    " received_at, status, claimed_by, heartbeat_at) VALUES ('telegram', ?, ?,"
                    " 'c', 'u', 0, 'claimed', ?, extract(epoch from clock_timestamp()) - ?)",
                    (str(i), f"c{i}", replica, age))
    finally:
        db.close()
    code, out, _ = cli(capsys, "state", "info", "--json")
    replicas = json.loads(out)["replicas"]
    assert code == 0 and [(r["name"], r["claimed"]) for r in replicas] == [("web-1", 1),
                                                                            ("web-2", 1)]
    assert 4 <= replicas[0]["age_s"] < 60
    code, out, _ = cli(capsys, "state", "info")  # piped: tab-separated rows
    assert code == 0 and "web-1\t" in out and "inbox\t3" in out


def test_an_unreachable_database_names_the_masked_url_and_exits_2(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_postgres(isolated_home, "postgresql://assistant@127.0.0.1:1/assistant", password=None)
    code, _, err = cli(capsys, "pairing", "list")
    assert code == 2 and "Traceback" not in err
    assert "postgresql://assistant@127.0.0.1:1/assistant" in err and "fix:" in err
    Database(resolve().database).close()  # a SQLite state to copy
    code, _, err = cli(capsys, "state", "migrate", "--to",
                       "postgresql://u:hunter2@127.0.0.1:1/x")
    assert code == 2 and "hunter2" not in err and "postgresql://u:***@127.0.0.1:1/x" in err


def test_a_missing_driver_says_how_to_install_it(
        isolated_home: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # import fails as if not installed
    use_postgres(isolated_home, "postgresql://assistant@db.internal/assistant", password=None)
    code, _, err = cli(capsys, "audit", "list")
    assert code == 2 and "pip install 'assistant-cli[postgres]'" in err


def test_a_password_in_the_url_of_config_is_refused_without_echoing_it(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use_postgres(isolated_home, "postgresql://u:hunter2@127.0.0.1/x", password=None)
    code, _, err = cli(capsys, "pairing", "list")
    assert code == 2 and "hunter2" not in err and "state.url" in err


# -- migrate ---------------------------------------------------------------------------
MESSAGES = 100_000


def fill_sqlite(path: Path, messages: int) -> None:
    """A state with `messages` answered messages (rows written directly, in bulk)."""
    Database(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO inbox (id, platform, external_id, conversation, chat_id, sender_id,"
            " text, received_at, status, claimed_by) VALUES (?, 'telegram', ?, ?, ?, 'u',"
            " ?, ?, 'done', NULL)",
            ((i, str(i), f"telegram:{i % 500}", str(i % 500), f"message {i} 100%", 1.5 + i)
             for i in range(1, messages + 1)))
        conn.executemany(
            "INSERT INTO replies (inbox_id, text, state, created_at) VALUES (?, ?, 'sent', ?)",
            ((i, f"answer {i}", 2.5 + i) for i in range(1, messages + 1, 10)))
        conn.executemany(
            "INSERT INTO history (session, role, content, inbox_id, created_at)"
            " VALUES (?, 'user', ?, ?, ?)",
            ((f"telegram:{i % 500}", f"message {i}", i, 1.5 + i)
             for i in range(1, messages + 1, 10)))
    conn.close()


def test_migrate_copies_100k_messages_and_the_audit_chain_and_is_safe_to_rerun(
        pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    paths = resolve()
    fill_sqlite(paths.database, MESSAGES)
    source = Database(paths.database)
    audit = open_audit(source, SecretStore(paths, source))
    for i in range(30):
        audit.append("pairing.approve", f"telegram:{i}", "ok")
    source.close()
    started = time.monotonic()
    code, out, err = cli(capsys, "state", "migrate", "--to", pg_url)
    took = time.monotonic() - started
    assert code == 0, err
    assert f"inbox: {MESSAGES}/{MESSAGES}" in out and "row counts match" in out
    assert "audit chain verified: 31 entries, chain intact" in out  # + state.migrate itself
    print(f"migrated {MESSAGES} messages in {took:.1f} s")  # reported, not asserted
    target = PgDatabase(pg_url)
    try:
        assert int(target.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]) == MESSAGES
        row = target.execute("SELECT text FROM inbox WHERE id = ?", (77,)).fetchone()
        assert row["text"] == "message 77 100%"
        # New rows continue after the copied ids, and the copied chain goes on.
        with target.transaction() as conn:
            new_id = conn.execute("INSERT INTO history (session, role, content, created_at)"
                                  " VALUES ('s', 'user', 'x', 0) RETURNING id").fetchone()[0]
            conn.execute("DELETE FROM history WHERE id = ?", (new_id,))
        assert new_id == MESSAGES // 10 + 1
        log = AuditLog(target, lambda: bytes.fromhex(SecretStore(paths).get(KEY_NAME) or ""))
        log.append("test.after", "x", "ok")
        assert log.verify() == (True, "32 entries, chain intact")
        with target.transaction() as conn:  # back to a copy of the source, for the re-run
            conn.execute("DELETE FROM audit WHERE action = 'test.after'")
    finally:
        target.close()
    # A re-run after more happened in the source: upserts, no duplicates.
    source = Database(paths.database)
    with source.transaction() as conn:
        conn.execute("UPDATE inbox SET status = 'failed' WHERE id = 5")
        conn.execute("UPDATE inbox SET status = 'claimed' WHERE id = 6")  # serve was killed
    source.close()
    code, out, err = cli(capsys, "state", "migrate", "--to", pg_url, "--batch", "50000")
    assert code == 0, err
    assert "audit chain verified: 32 entries, chain intact" in out
    target = PgDatabase(pg_url)
    try:
        assert int(target.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]) == MESSAGES
        assert target.execute("SELECT status FROM inbox WHERE id = 5").fetchone()[0] == "failed"
        assert target.execute("SELECT status FROM inbox WHERE id = 6").fetchone()[0] == "queued"
    finally:
        target.close()


def test_migrate_refuses_a_database_holding_other_data(
        pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant_cli.store.kv import NamespacedKV

    fill_sqlite(resolve().database, 10)
    other = PgDatabase(pg_url)
    try:
        NamespacedKV(other, "plugin:x").set("k", "someone else's")
    finally:
        other.close()
    code, _, err = cli(capsys, "state", "migrate", "--to", pg_url)
    assert code == 1 and "already holds other data" in err and "kv 1" in err
    target = PgDatabase(pg_url)
    try:
        assert int(target.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]) == 0
    finally:
        target.close()


def test_migrate_needs_a_sqlite_state_and_a_postgres_url(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(capsys, "state", "migrate", "--to", "mysql://x/y")
    assert code == 2 and "is not a PostgreSQL URL" in err
    code, _, err = cli(capsys, "state", "migrate", "--to", "postgresql://x/y")
    assert code == 2 and "no SQLite state" in err
    Database(resolve().database).close()
    monkeypatch.delenv("NOPE", raising=False)
    code, _, err = cli(capsys, "state", "migrate", "--to", "postgresql://x/y",
                       "--password-env", "NOPE")
    assert code == 2 and "NOPE" in err


def test_migrate_takes_the_password_reference_of_the_config(
        pg_url: str, isolated_home: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    Database(resolve().database).close()
    use_postgres(isolated_home, "postgresql://assistant@db.internal/assistant")
    monkeypatch.delenv("TEST_PGPASSWORD", raising=False)
    code, _, err = cli(capsys, "state", "migrate", "--to", pg_url)
    assert code == 1 and "state.password: environment variable TEST_PGPASSWORD" in err
    monkeypatch.setenv("TEST_PGPASSWORD", "any (trust auth)")
    code, out, err = cli(capsys, "state", "migrate", "--to", pg_url)
    assert code == 0 and "row counts match" in out, err


def test_migrate_on_a_terminal_shows_a_progress_bar(
        pg_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fill_sqlite(resolve().database, 2000)
    monkeypatch.setattr("assistant_cli.cli.output.stdout_is_tty", lambda: True)
    code, out, err = cli(capsys, "state", "migrate", "--to", pg_url, "--batch", "500")
    assert code == 0, err
    assert "inbox: " not in out  # no plain progress lines on a terminal
    assert "2000/2000" in out and "row counts match" in out
