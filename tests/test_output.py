"""Output scripts can trust: piped rows are tab-separated and never cut; --json is one
document with ISO-8601 UTC times; a terminal gets a table whose cells fold, never "…"."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from assistant_cli.cli.output import Cell, Table, iso, print_table
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import AuditLog, key_from_store
from assistant_cli.store.db import Database
from assistant_cli.store.pairing import PairingStore
from tests.clirun import cli
from tests.conftest import cli_command, subprocess_env

LONG_ID = "123456789012345"  # longer than any 80-column table cell leaves room for
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _senders(n: int) -> PairingStore:
    store = PairingStore(Database(resolve().database))
    for i in range(n):
        store.allow("telegram", str(int(LONG_ID) + i), "owner", display_name=f"user\t{i}")
    return store


def test_piped_pairing_list_is_tab_separated_rows_with_iso_times(
        capsys: pytest.CaptureFixture[str]) -> None:
    _senders(3)
    code, out, _ = cli(capsys, "pairing", "list")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[1] for r in rows] == [LONG_ID, "123456789012346", "123456789012347"]
    # a tab inside a stranger's name cannot split the row
    assert {len(r) for r in rows} == {6} and rows[0][2] == "user 0"
    assert rows[0][3] == "approved" and ISO_UTC.match(rows[0][4])


def test_pairing_list_pages_with_limit_and_offset_and_json_counts_all(
        capsys: pytest.CaptureFixture[str]) -> None:
    _senders(5)
    code, out, _ = cli(capsys, "pairing", "list", "--limit", "2", "--offset", "3")
    assert code == 0
    assert [line.split("\t")[1] for line in out.splitlines()] == [
        "123456789012348", "123456789012349"]
    code, out, _ = cli(capsys, "pairing", "list", "--limit", "1", "--json")
    doc = json.loads(out)
    assert doc["approved_total"] == 5 and len(doc["approved"]) == 1 and doc["pending"] == []
    assert ISO_UTC.match(doc["approved"][0]["approved_at"])
    code, out, err = cli(capsys, "pairing", "list", "--offset", "9")
    assert code == 0 and out == "" and "no approved senders past that offset" in err


def test_audit_list_piped_through_grep_finds_the_whole_long_target(tmp_path: Path) -> None:
    """The issue's own check, as a user's shell runs it: `audit list | grep ID`."""
    home = tmp_path / "child-home"
    env = subprocess_env(home, ASSISTANT_CLI_KEYRING_PASSWORD="pw-for-this-test")
    args = [*cli_command(), "pairing", "allow", "--platform", "telegram", "--user-id", LONG_ID]
    subprocess.run(args, env=env, check=True, capture_output=True)
    cmd = " ".join([*cli_command(), "audit", "list"]) + f" | grep {LONG_ID}"
    found = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    fields = found.stdout.rstrip("\n").split("\t")
    assert fields[2:] == [fields[2], "pairing.allow", f"telegram:{LONG_ID}", "ok"]
    assert ISO_UTC.match(fields[1])


def test_audit_and_secrets_json_are_one_document_with_utc_times(
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = resolve()
    store = SecretStore(paths)
    store.set("a_rather_long_secret_name_for_the_telegram_bot", "value-1234567")
    AuditLog(Database(paths.database), key_from_store(store)).append("x.y", "t", "ok")
    _, out, _ = cli(capsys, "audit", "list", "--json")
    (entry,) = json.loads(out)["entries"]
    assert ISO_UTC.match(entry["time"]) and entry["target"] == "t"
    _, out, _ = cli(capsys, "secrets", "list", "--json")
    names = {s["name"]: s for s in json.loads(out)["secrets"]}
    assert ISO_UTC.match(names["a_rather_long_secret_name_for_the_telegram_bot"]["created_at"])
    _, out, _ = cli(capsys, "secrets", "list")
    assert any(line.split("\t")[0] == "a_rather_long_secret_name_for_the_telegram_bot"
               for line in out.splitlines())


def test_config_show_has_json(capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  main: {base_url: 'http://127.0.0.1:9/v1', model: m}\n")
    code, out, err = cli(capsys, "config", "show", "--json")
    assert code == 0, err
    assert json.loads(out)["providers"]["main"]["model"] == "m"


def test_empty_lists_say_so_on_stderr_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    for args, words in ((("audit", "list"), "no audit entries"),
                        (("secrets", "list"), "no secrets stored yet"),
                        (("pairing", "list"), "no pairing requests")):
        code, out, err = cli(capsys, *args)
        assert (code, out) == (0, "") and words in err


def test_a_terminal_table_folds_long_cells_instead_of_cutting_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    table = Table(("platform", "user id", "name", "state", "since", "approved by"))
    for _ in range(3):
        table.add("telegram", LONG_ID * 3, "a name that is long enough to need room",
                  Cell("approved", "green"), "2026-01-01T00:00:00Z", "someone (allow)")
    print_table(table, tty=True)
    out = capsys.readouterr().out
    assert "…" not in out
    user_id_column = "".join(line.split("│")[2].strip() for line in out.splitlines()
                             if line.startswith("│"))
    assert user_id_column == LONG_ID * 9  # three rows, each folded, every digit kept


def test_iso_is_utc_with_z() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z" and iso(None) is None


def _log_lines(*stamps: str) -> None:
    log_file = resolve().log_file
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("".join(
        json.dumps({"ts": ts, "level": "INFO", "logger": "t", "event": "e", "msg": f"at {ts}"})
        + "\n" for ts in stamps))


def test_logs_until_and_no_entries(capsys: pytest.CaptureFixture[str]) -> None:
    _log_lines("2026-01-01T10:00:00.000Z", "2026-01-01T11:00:00.000Z",
               "2026-01-01T12:00:00.000Z")
    code, out, _ = cli(capsys, "logs", "--since", "2026-01-01T10:30:00+00:00",
                       "--until", "2026-01-01T12:00:00+00:00", "--json")
    assert code == 0 and [r["ts"] for r in json.loads(out)["records"]] == [
        "2026-01-01T11:00:00.000Z"]
    code, out, err = cli(capsys, "logs", "--grep", "nothing-like-this")
    assert (code, out) == (0, "") and "no entries match" in err


def test_config_validate_and_audit_verify_have_json(
        capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    (isolated_home / "config.yaml").write_text(
        "providers:\n  main: {base_url: 'http://127.0.0.1:9/v1', model: m}\n")
    code, out, _ = cli(capsys, "config", "validate", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and doc["providers"] == ["main"]
    paths = resolve()
    log = AuditLog(Database(paths.database), key_from_store(SecretStore(paths)))
    log.append("x.y", "t", "ok")
    code, out, _ = cli(capsys, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["intact"] is True
    log.db.execute("UPDATE audit SET target = 'forged'")
    code, out, _ = cli(capsys, "audit", "verify", "--json")
    assert code == 1 and json.loads(out)["intact"] is False
