"""`doctor`'s local checks: environment, config, secrets, state; and the command itself."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail as fail_backend
from typer.testing import CliRunner

from assistant_cli.cli.app import app, run
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import AuditLog, key_from_store, open_audit
from assistant_cli.store.db import Database
from tests.doctor_support import JWT, outcomes, result, write_config
from tests.memkeyring import MemoryKeyring

runner = CliRunner()

CONFIG = """
version: 1
providers:
  main:
    base_url: http://127.0.0.1:9/v1
    model: m
    api_key: keyring:main_key
"""


@pytest.fixture
def healthy(isolated_home: Path) -> Path:
    """A valid config, its secrets stored, and a state database with an intact audit log."""
    paths = write_config(CONFIG)
    store = SecretStore(paths)
    store.set("main_key", "sk-main-key-123")
    store.set("gateway_jwt_secret", JWT)
    db = Database(paths.database)
    open_audit(db, SecretStore(paths, db)).append("pairing.allow", "t:1", "ok")
    db.close()
    return isolated_home


# --- environment -------------------------------------------------------------------------

def test_linux_and_this_python_are_ok() -> None:
    found = outcomes("env")
    assert found["env.os"].result.status == "ok"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in found["env.python"].result.found


def test_an_unsupported_os_fails_naming_linux_and_macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    r = result("env.os")
    assert r.status == "fail" and "Linux or macOS" in r.fix


def test_python_outside_a_virtualenv_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    r = result("env.python")
    assert r.status == "warn" and "venv" in r.fix


# --- config ------------------------------------------------------------------------------

def test_missing_config_fails_with_init_and_dependent_checks_are_skipped() -> None:
    found = outcomes("config", "secrets.present", "gateway", "providers.tls")
    assert found["config.valid"].result.status == "fail"
    assert "config init" in found["config.valid"].result.fix
    for check_id in ("config.secrets", "secrets.present", "gateway.port", "gateway.tls"):
        assert found[check_id].result.status == "skipped", check_id


def test_config_on_a_hung_file_system_fails_instead_of_hanging(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant_cli.config import loader

    write_config(CONFIG)
    release = threading.Event()

    def stuck(path: Path) -> object:
        release.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(loader, "read_document", stuck)
    started = time.monotonic()
    try:
        found = outcomes("config", "gateway", "env", timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert "did not finish" in found["config.valid"].result.found
    assert found["gateway.port"].result.status == "skipped"
    assert found["env.os"].result.status == "ok"


def test_malformed_yaml_fails_naming_the_line() -> None:
    write_config("version: 1\nproviders:\n  main: [unclosed\n")
    r = result("config.valid")
    assert r.status == "fail" and "config.yaml:" in r.found and "YAML" in r.found


def test_unknown_key_fails_with_a_suggestion() -> None:
    write_config("version: 1\ngateway:\n  prot: 8080\n")
    r = result("config.valid")
    assert r.status == "fail" and "did you mean 'port'" in r.found


def test_literal_secret_is_a_warning_naming_the_key() -> None:
    write_config(CONFIG.replace("keyring:main_key", "sk-literal-secret-value"))
    r = result("config.secrets")
    assert r.status == "warn" and "providers.main.api_key" in r.found
    assert "secrets set" in r.fix


def test_valid_config_is_ok() -> None:
    write_config(CONFIG)
    assert result("config.valid").status == "ok"
    assert result("config.secrets").status == "ok"


# --- secrets -----------------------------------------------------------------------------

def test_no_usable_keyring_fails_with_the_options() -> None:
    keyring.set_keyring(fail_backend.Keyring())  # type: ignore[no-untyped-call]
    r = result("secrets.keyring")
    assert r.status == "fail" and "ASSISTANT_CLI_KEYRING_PASSWORD" in r.fix


class DeadKeyring(MemoryKeyring):
    """A keyring whose service went away: every call raises."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")


class HungKeyring(MemoryKeyring):
    """A keyring that never answers (until the test releases it)."""

    release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return None


@pytest.fixture
def hung_keyring() -> Iterator[None]:
    HungKeyring.release.clear()
    keyring.set_keyring(HungKeyring())
    yield
    HungKeyring.release.set()


def test_dead_keyring_fails_every_secret_check_without_crashing() -> None:
    write_config(CONFIG)
    keyring.set_keyring(DeadKeyring())
    found = outcomes("secrets", "state.audit")
    assert found["secrets.keyring"].result.status == "fail"
    assert "does not answer" in found["secrets.keyring"].result.found
    assert found["secrets.present"].result.status == "fail"


@pytest.mark.usefixtures("hung_keyring")
def test_hung_keyring_becomes_a_failed_check_within_the_timeout() -> None:
    write_config(CONFIG)
    started = time.monotonic()
    found = outcomes("secrets", "config", timeout=0.3)
    assert time.monotonic() - started < 3
    r = found["secrets.keyring"].result
    assert r.status == "fail" and "no answer within" in r.found and "keyring" in r.fix
    assert found["config.valid"].result.status == "ok"  # the others still ran


def test_missing_secrets_fail_naming_the_command_to_store_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(CONFIG + "  other:\n    base_url: http://x/v1\n    model: m\n"
                 "    api_key: env:OTHER_KEY\nassistant:\n  fallbacks: [other]\n")
    monkeypatch.delenv("OTHER_KEY", raising=False)
    r = result("secrets.present")
    assert r.status == "fail"
    assert "assistant-cli secrets set main_key" in r.fix and "export OTHER_KEY" in r.fix


def test_present_secrets_are_ok() -> None:
    paths = write_config(CONFIG)
    SecretStore(paths).set("main_key", "sk-main-key-123")
    SecretStore(paths).set("gateway_jwt_secret", JWT)
    assert result("secrets.present").status == "ok"


def test_missing_gateway_secret_is_generated_by_fix_and_audited() -> None:
    paths = write_config(CONFIG)
    SecretStore(paths).set("main_key", "sk-main-key-123")
    before = result("secrets.present")
    assert before.status == "warn" and before.fixable
    fixed = outcomes("secrets.present", fix=True)["secrets.present"]
    assert fixed.result.status == "ok"
    assert fixed.changes == ["generated gateway.jwt_secret and stored it as "
                             "keyring:gateway_jwt_secret"]
    assert len(SecretStore(paths).get("gateway_jwt_secret") or "") >= 32
    db = Database(paths.database)
    entries = AuditLog(db, key_from_store(SecretStore(paths, db))).entries()
    assert [(e.action, e.target) for e in entries] == [("secret.generate", "gateway_jwt_secret")]


def test_short_gateway_secret_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(CONFIG.replace("keyring:main_key", "env:MAIN")
                 + "gateway:\n  jwt_secret: env:JWT\n")
    monkeypatch.setenv("MAIN", "sk-main")
    monkeypatch.setenv("JWT", "short")
    r = result("secrets.present")
    assert r.status == "fail" and "at least 32" in r.found


def _age(paths_db: Path, name: str, days: float) -> None:
    conn = sqlite3.connect(paths_db)
    conn.execute("UPDATE secrets_meta SET rotated_at = ? WHERE name = ?",
                 (time.time() - days * 86400, name))
    conn.commit()
    conn.close()


@pytest.mark.usefixtures("healthy")
def test_secret_older_than_the_rotation_period_is_a_warning_naming_the_command() -> None:
    _age(resolve().database, "main_key", 120)
    _age(resolve().database, "audit_hmac_key", 400)  # internal: never due
    r = result("secrets.rotation")
    assert r.status == "warn"
    assert r.data["due"] == ["main_key"]
    assert "assistant-cli secrets rotate main_key" in r.fix
    assert "main_key 120 d" in r.found


@pytest.mark.usefixtures("healthy")
def test_old_oauth_tokens_are_renewed_by_signing_in_again() -> None:
    SecretStore(resolve()).set("oauth.corp", '{"access_token": "a"}')
    _age(resolve().database, "oauth.corp", 120)
    r = result("secrets.rotation")
    assert r.status == "warn" and r.fix == "assistant-cli providers login corp"


@pytest.mark.usefixtures("healthy")
def test_rotation_period_comes_from_the_config() -> None:
    _age(resolve().database, "main_key", 10)
    assert result("secrets.rotation").status == "ok"
    write_config(CONFIG + "secrets:\n  rotation_days: 7\n")
    assert result("secrets.rotation").status == "warn"


# --- state -------------------------------------------------------------------------------

def test_missing_database_fails_with_a_fix_and_its_dependants_are_skipped() -> None:
    write_config(CONFIG)
    found = outcomes("state")
    assert found["state.database"].result.status == "fail"
    assert "assistant-cli serve" in found["state.database"].result.fix
    assert found["state.migrations"].result.status == "skipped"
    assert found["state.audit"].result.status == "skipped"
    assert not resolve().database.exists()  # doctor never creates it


def test_a_file_that_is_not_a_database_fails_with_recovery_steps() -> None:
    paths = resolve()
    paths.state_dir.mkdir(parents=True)
    paths.database.write_bytes(b"this is not sqlite" * 100)
    found = outcomes("state")
    assert found["state.database"].result.status == "fail"
    assert ".recover" in found["state.database"].result.fix
    assert found["state.migrations"].result.status == "skipped"


def test_a_corrupted_page_fails_the_integrity_check() -> None:
    paths = resolve()
    db = Database(paths.database)
    with db.transaction() as conn:
        conn.executemany("INSERT INTO kv (key, value) VALUES (?, ?)",
                         [(f"k{i:05d}", "v" * 200) for i in range(2000)])
    db.close()
    data = bytearray(paths.database.read_bytes())
    page = 4096
    middle = len(data) // page // 2  # pages of the kv rows just written
    for p in range(middle, middle + 5):  # scribble over their b-tree headers
        data[p * page: p * page + 200] = b"\xff" * 200
    paths.database.write_bytes(bytes(data))
    r = result("state.database")
    assert r.status == "fail" and ".recover" in r.fix


@pytest.mark.usefixtures("healthy")
def test_intact_state_is_ok() -> None:
    found = outcomes("state.database", "state.migrations", "state.audit")
    assert {k: o.result.status for k, o in found.items()} == {
        "state.database": "ok", "state.migrations": "ok", "state.audit": "ok"}
    assert "1 entries" in found["state.audit"].result.found


@pytest.mark.usefixtures("healthy")
def test_old_schema_warns_and_newer_schema_fails() -> None:
    conn = sqlite3.connect(resolve().database)
    conn.execute("PRAGMA user_version=1")
    conn.close()
    assert result("state.migrations").status == "warn"
    conn = sqlite3.connect(resolve().database)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    r = result("state.migrations")
    assert r.status == "fail" and "upgrade" in r.fix


@pytest.mark.usefixtures("healthy")
def test_edited_audit_entry_fails_naming_it() -> None:
    conn = sqlite3.connect(resolve().database)
    conn.execute("UPDATE audit SET target = 't:2' WHERE id = 1")
    conn.commit()
    conn.close()
    r = result("state.audit")
    assert r.status == "fail" and "entry 1 was altered" in r.found


@pytest.mark.usefixtures("healthy")
def test_wiped_audit_log_fails_naming_the_wipe() -> None:
    conn = sqlite3.connect(resolve().database)
    conn.execute("DELETE FROM audit")
    conn.execute("DELETE FROM kv WHERE key = 'audit_head'")
    conn.commit()
    conn.close()
    r = result("state.audit")
    assert r.status == "fail" and "wiped" in r.found


@pytest.mark.usefixtures("healthy")
def test_audit_entries_without_their_key_fail(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries = {k: v for k, v in memory_keyring.entries.items()
                              if k[1] != "audit_hmac_key"}
    r = result("state.audit")
    assert r.status == "fail" and "cannot be verified" in r.found


@pytest.mark.usefixtures("healthy")
def test_readable_config_is_a_warning_and_fix_tightens_it() -> None:
    paths = resolve()
    paths.config_file.parent.chmod(0o755)
    paths.config_file.chmod(0o644)
    paths.state_dir.chmod(0o755)
    r = result("state.permissions")
    assert r.status == "warn" and r.fixable
    assert f"{paths.config_file} is 644" in r.found and f"{paths.state_dir} is 755" in r.found
    fixed = outcomes("state.permissions", fix=True)["state.permissions"]
    assert fixed.result.status == "ok"
    assert f"chmod 600 {paths.config_file} (was 644)" in fixed.changes
    assert f"created {paths.log_dir} (mode 700)" in fixed.changes
    assert paths.config_file.stat().st_mode & 0o777 == 0o600
    assert paths.state_dir.stat().st_mode & 0o777 == 0o700


def test_state_directory_that_cannot_be_created_fails(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("ASSISTANT_CLI_HOME", str(locked / "home"))
    real_access = os.access
    # As root every directory is writable, so the refusal is simulated for this one.
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked
                        else real_access(p, mode))
    try:
        r = result("state.permissions")
    finally:
        locked.chmod(0o700)
    assert r.status == "fail" and "not writable" in r.found


def test_low_disk_space_warns_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil


    usage = shutil.disk_usage("/")
    monkeypatch.setattr("assistant_cli.doctor.state_checks.shutil.disk_usage",
                        lambda p: usage._replace(free=500 * 2**20))
    assert result("state.disk").status == "warn"
    monkeypatch.setattr("assistant_cli.doctor.state_checks.shutil.disk_usage",
                        lambda p: usage._replace(free=10 * 2**20))
    r = result("state.disk")
    assert r.status == "fail" and "10 MiB" in r.found


# --- the command -------------------------------------------------------------------------

@pytest.mark.usefixtures("healthy")
def test_exit_code_is_0_when_all_ok_1_with_warnings_2_with_failures() -> None:
    ok = runner.invoke(app, ["doctor", "--only", "config,state.database,state.audit"])
    assert ok.exit_code == 0, ok.output
    _age(resolve().database, "main_key", 200)
    warned = runner.invoke(app, ["doctor", "--only", "config,secrets.rotation"])
    assert warned.exit_code == 1, warned.output
    resolve().database.unlink()
    failed = runner.invoke(app, ["doctor", "--only", "config,secrets.rotation,state"])
    assert failed.exit_code == 2, failed.output


@pytest.mark.usefixtures("healthy")
def test_json_output_lists_checks_with_status_found_and_fix() -> None:
    out = runner.invoke(app, ["doctor", "--json", "--only", "state", "--skip", "state.disk"])
    data = json.loads(out.output)
    assert data["exit_code"] == out.exit_code == 0
    ids = [c["id"] for c in data["checks"]]
    assert ids == ["state.database", "state.migrations", "state.audit", "state.undelivered",
                   "state.lag", "state.permissions"]  # state.lag: skipped on SQLite
    assert set(data["checks"][0]) >= {"id", "title", "status", "found", "fix", "changes"}


def test_report_is_one_line_per_check_with_finding_and_fix_under_failures() -> None:
    out = runner.invoke(app, ["doctor", "--only", "config.valid,env"])
    assert out.exit_code == 2
    lines = out.output.splitlines()
    assert lines[0].startswith("✓ env.os ") and lines[1].startswith("✓ env.python ")
    assert lines[2].startswith("✗ config.valid ")
    assert lines[3].startswith("    no config file at ")
    assert lines[4].startswith("    fix: ") and "config init" in lines[4]
    assert "1 failure" in lines[-1]


def test_report_fits_80_columns_and_verbose_explains_skipped_checks() -> None:
    from assistant_cli.doctor.base import DoctorContext
    from assistant_cli.doctor.report import Layout, report_lines
    from assistant_cli.doctor.runner import run
    from assistant_cli.paths import resolve

    write_config(CONFIG + "platforms:\n  telegram:\n    api_token: keyring:tg\n")
    found = run(DoctorContext(resolve(), offline=True, timeout=5))
    lines = [text for text, _ in report_lines(found, 0.1, Layout(width=80))]
    assert max(len(line) for line in lines) <= 80
    assert sum(line.startswith("- skipped: ") for line in lines) == 1
    verbose = [text for text, _ in report_lines(found, 0.1, Layout(width=80, verbose=True))]
    assert any(line.startswith("- telegram.token ") for line in verbose)
    assert "    --offline" in verbose


def test_offline_skips_every_network_check() -> None:
    write_config(CONFIG + "platforms:\n  telegram:\n    api_token: keyring:tg\n")
    found = outcomes("providers", "telegram", "whatsapp", offline=True)
    assert found["providers.main"].result.found == "--offline"
    network = {k: o for k, o in found.items() if o.check.network}
    assert set(network) == {"providers.main", "telegram.token", "telegram.webhook",
                            "whatsapp.token"}
    assert {o.result.status for o in network.values()} == {"skipped"}


def test_unknown_check_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(["doctor", "--only", "state.nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "state.nope" in err and "state.audit" in err


def test_broken_config_in_a_subprocess_exits_2_quickly_without_traceback(
        isolated_home: Path) -> None:
    import subprocess

    from tests.conftest import cli_command, subprocess_env

    write_config("version: 1\nproviders: [\n")
    started = time.monotonic()
    proc = subprocess.run([*cli_command(), "doctor"], env=subprocess_env(isolated_home),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "config.valid" in proc.stdout
    assert time.monotonic() - started < 20


def test_dead_keyring_missing_database_and_unreachable_network_in_a_subprocess(
        isolated_home: Path) -> None:
    """The real CLI: each problem is a failed check with a fix; no crash, hang or stray log."""
    import subprocess

    from tests.conftest import cli_command, subprocess_env
    from tests.doctor_support import free_port

    port = free_port()
    write_config(f"""
        version: 1
        providers:
          main:
            base_url: http://127.0.0.1:{port}/v1
            model: m
            api_key: env:MAIN_KEY
        platforms:
          telegram:
            api_token: env:TG_TOKEN
            base_url: http://127.0.0.1:{port}/bot
        """)
    env = subprocess_env(isolated_home, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
                         MAIN_KEY="sk-main-key-123", TG_TOKEN="123456:" + "A" * 35)
    started = time.monotonic()
    proc = subprocess.run([*cli_command(), "doctor", "--json", "--timeout", "2"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 20
    assert proc.returncode == 2 and proc.stderr == "", proc.stderr
    found = {c["id"]: c for c in json.loads(proc.stdout)["checks"]}
    for check_id, words in [("secrets.keyring", "ASSISTANT_CLI_KEYRING_PASSWORD"),
                            ("state.database", "assistant-cli serve"),
                            ("providers.main", f"127.0.0.1:{port}"),
                            ("telegram.token", f"127.0.0.1:{port}")]:
        assert found[check_id]["status"] == "fail", found[check_id]
        assert words in found[check_id]["fix"], found[check_id]
