"""`secrets rotate` tests the new value before replacing the old one; admin actions are audited."""

from __future__ import annotations

import json
import random
import secrets
import sqlite3
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from assistant_cli.cli.app import app, run
from assistant_cli.gateway.tokens import key_id
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from assistant_cli.store.audit import AuditEntry, AuditLog, key_from_store
from assistant_cli.store.db import Database
from tests.doctor_support import JWT, free_port, write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
runner = CliRunner()

OLD, NEW = "sk-old-key-1111", "sk-new-key-2222"


def audit_entries() -> list[AuditEntry]:
    paths = resolve()
    db = Database(paths.database)
    try:
        return AuditLog(db, key_from_store(SecretStore(paths, db))).entries()
    finally:
        db.close()


def stored(name: str) -> str | None:
    return SecretStore(resolve()).get(name)


@pytest.fixture
def ai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=NEW) as fake:  # the service already knows only the new key
        yield fake


def provider_setup(base_url: str) -> None:
    write_config(f"""
        version: 1
        providers:
          main:
            base_url: {base_url}
            model: fake-model
            api_key: keyring:main_key
        """)
    SecretStore(resolve()).set("main_key", OLD)


def test_provider_key_is_tested_then_replaced_and_audited(ai: FakeOpenAI) -> None:
    provider_setup(ai.base_url)
    out = runner.invoke(app, ["secrets", "rotate", "main_key"], input=NEW + "\n")
    assert out.exit_code == 0, out.output
    assert "tested providers.main.api_key" in out.output
    assert stored("main_key") == NEW
    assert ai.requests[-1].headers["Authorization"] == f"Bearer {NEW}"
    last = audit_entries()[-1]
    assert (last.action, last.target, last.outcome) == ("secret.rotate", "main_key", "ok")
    assert NEW not in str(last.detail) and OLD not in str(last.detail)


def test_rejected_new_key_keeps_the_old_one(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    with FakeOpenAI(api_key=OLD) as fake:  # the new key is wrong
        provider_setup(fake.base_url)
        monkeypatch.setattr("sys.stdin", io.StringIO(NEW))
        with pytest.raises(SystemExit) as info:
            run(["secrets", "rotate", "main_key"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "rejected the new value" in err and "old value is kept" in err
    assert stored("main_key") == OLD
    assert audit_entries()[-1].outcome == "rejected"


def test_untestable_because_unreachable_keeps_the_old_one_unless_no_test() -> None:
    provider_setup(f"http://127.0.0.1:{free_port()}/v1")
    out = runner.invoke(app, ["secrets", "rotate", "main_key"], input=NEW)
    assert out.exit_code == 1
    assert "could not test" in str(out.exception) and "--no-test" in str(out.exception)
    assert stored("main_key") == OLD
    out = runner.invoke(app, ["secrets", "rotate", "main_key", "--no-test"], input=NEW)
    assert out.exit_code == 0, out.output
    assert "not tested (--no-test)" in out.output
    assert stored("main_key") == NEW
    assert [e.outcome for e in audit_entries()] == ["untested", "ok"]


def test_rotation_resets_the_age(ai: FakeOpenAI) -> None:
    provider_setup(ai.base_url)
    conn = sqlite3.connect(resolve().database)
    conn.execute("UPDATE secrets_meta SET rotated_at = ? WHERE name = 'main_key'",
                 (time.time() - 200 * 86400,))
    conn.commit()
    conn.close()
    before = runner.invoke(app, ["secrets", "list"])
    assert "due" in before.output
    assert runner.invoke(app, ["secrets", "rotate", "main_key"], input=NEW).exit_code == 0
    (info,) = [i for i in SecretStore(resolve()).list() if i.name == "main_key"]
    assert info.age_days() < 0.01


def bot_token() -> str:
    return f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"


def test_telegram_token_is_checked_with_getme() -> None:
    old, new = bot_token(), bot_token()
    with FakeTelegram(token=old, tokens=[new]) as tg:
        write_config(f"""
            version: 1
            platforms:
              telegram:
                api_token: keyring:telegram_token
                base_url: {tg.base_url}
            """)
        SecretStore(resolve()).set("telegram_token", old)
        bad = runner.invoke(app, ["secrets", "rotate", "telegram_token"], input=bot_token())
        assert bad.exit_code == 1 and "rejected" in str(bad.exception)
        assert stored("telegram_token") == old
        good = runner.invoke(app, ["secrets", "rotate", "telegram_token"], input=new)
        assert good.exit_code == 0, good.output
        assert "token valid" in good.output and "another bot" in good.output
        assert stored("telegram_token") == new
        assert [c.token for c in tg.log if c.method == "getMe"][-1] == new


def test_gateway_secret_gets_a_new_key_id_and_the_old_one_stays_for_the_grace() -> None:
    write_config("version: 1\ngateway:\n  rotation_grace: 3600\n")
    SecretStore(resolve()).set("gateway_jwt_secret", JWT)
    out = runner.invoke(app, ["secrets", "rotate", "gateway_jwt_secret"])
    assert out.exit_code == 0, out.output
    new = stored("gateway_jwt_secret")
    assert new and new != JWT and key_id(new) in out.output
    assert stored("gateway_jwt_secret_previous") == JWT
    assert "1 h" in out.output
    last = audit_entries()[-1]
    assert (last.action, last.outcome, last.detail["kid"]) == ("secret.rotate", "ok", key_id(new))


def test_audit_key_unknown_names_and_unchanged_values_are_refused() -> None:
    write_config("version: 1\n")
    store = SecretStore(resolve())
    store.set("thing", "value-1")
    store.set("oauth.corp", '{"access_token": "a"}')
    cases = [(["audit_hmac_key"], "", "unverifiable"),
             (["oauth.corp"], "x", "providers login corp"),
             (["nope"], "x", "no secret named 'nope'"),
             (["thing"], "value-1", "same as the current one")]
    for args, value, words in cases:
        out = runner.invoke(app, ["secrets", "rotate", *args], input=value)
        assert out.exit_code == 1 and words in str(out.exception), (args, out.output)


def test_untested_use_is_replaced_with_a_note() -> None:
    write_config("version: 1\nplatforms:\n  telegram:\n    api_token: keyring:tg\n"
                 "    webhook_secret: keyring:hook\n")
    SecretStore(resolve()).set("hook", "old-hook-secret")
    out = runner.invoke(app, ["secrets", "rotate", "hook"], input="new-hook-secret")
    assert out.exit_code == 0, out.output
    assert "nothing can check platforms.telegram.webhook_secret" in out.output
    assert stored("hook") == "new-hook-secret"


def test_set_and_delete_are_audited_without_values() -> None:
    assert runner.invoke(app, ["secrets", "set", "tok"], input="value-123456").exit_code == 0
    assert runner.invoke(app, ["secrets", "delete", "tok"]).exit_code == 0
    assert runner.invoke(app, ["secrets", "delete", "tok"]).exit_code == 1
    entries = [(e.action, e.target, e.outcome) for e in audit_entries()]
    assert entries == [("secret.set", "tok", "ok"), ("secret.delete", "tok", "ok"),
                       ("secret.delete", "tok", "not-found")]
    assert all("value-123456" not in str(e.detail) for e in audit_entries())


def test_config_init_is_audited() -> None:
    assert runner.invoke(app, ["config", "init"]).exit_code == 0
    (entry,) = audit_entries()
    assert (entry.action, entry.outcome) == ("config.init", "ok")
    assert entry.target == str(resolve().config_file)


def test_secrets_list_never_marks_internal_keys_due() -> None:
    store = SecretStore(resolve())
    store.set("audit_hmac_key", "00" * 32)
    store.set("api", "value-123456")
    conn = sqlite3.connect(resolve().database)
    conn.execute("UPDATE secrets_meta SET rotated_at = ?", (time.time() - 400 * 86400,))
    conn.commit()
    conn.close()
    out = runner.invoke(app, ["secrets", "list", "--json"])
    due = {row["name"]: row["rotation_due"] for row in json.loads(out.output)["secrets"]}
    assert due == {"api": True, "audit_hmac_key": False}


def test_the_first_run_wizard_audits_the_stored_key_and_the_new_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.prompt import Confirm, IntPrompt, Prompt

    from assistant_cli.cli.setup_wizard import first_run

    answers = iter(["http://127.0.0.1:9/v1", "sk-wizard-key-123", "fake-model"])
    monkeypatch.setattr(IntPrompt, "ask", classmethod(lambda cls, *a, **k: 4))  # custom
    monkeypatch.setattr(Prompt, "ask", classmethod(lambda cls, *a, **k: next(answers)))
    monkeypatch.setattr(Confirm, "ask", classmethod(lambda cls, *a, **k: True))  # keep offline
    first_run(resolve())
    entries = audit_entries()
    assert [(e.action, e.target, e.outcome) for e in entries] == [
        ("secret.set", "custom_api_key", "ok"),
        ("config.init", str(resolve().config_file), "ok")]
    assert all(e.actor.startswith("os:") and e.detail["via"] == "setup wizard"
               for e in entries)
    assert "sk-wizard-key-123" not in str([e.detail for e in entries])
