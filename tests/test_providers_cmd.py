"""`assistant-cli providers`: add/remove/set-default keep config.yaml's comments, secrets go to
the keyring, bad input leaves the file alone, `test` diagnoses, every change is audited."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.config.loader import load_config
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from tests.clirun import cli
from tests.fakes.openai_server import Error, FakeOpenAI

MINE = """\
# my assistant — hand written
version: 1

providers:
  # the local one, keep it first
  local:
    base_url: http://127.0.0.1:11434/v1   # ollama
    model: llama3.2
  # paid, for when local is down
  paid:
    kind: openai
    base_url: https://api.openai.com/v1
    model: gpt-4o-mini
    api_key: keyring:paid_api_key

assistant:
  provider: local      # answers first
  fallbacks: [paid]    # then this
  history_length: 10
"""


@pytest.fixture
def config_file(isolated_home: Path) -> Path:
    path = isolated_home / "config.yaml"
    path.write_text(MINE)
    return path


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(extra_models=["other-model"]) as server:
        yield server


def audit() -> list[tuple[str, str, str]]:
    from assistant_cli.store.audit import AuditLog, key_from_store
    from assistant_cli.store.db import Database

    db = Database(resolve().database)
    log = AuditLog(db, key_from_store(SecretStore(resolve(), db)))
    assert log.verify()[0]
    return [(e.action, e.target, e.outcome) for e in log.entries()]


def squeeze(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def add_fake(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             fake: FakeOpenAI, *extra: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-test-key\n"))
    return cli(capsys, "providers", "add", "fake", "--kind", "openai", "--base-url",
               fake.base_url, "--model", "fake-model", "--api-key-stdin", *extra)


def test_add_stores_the_key_in_the_keyring_and_keeps_every_comment(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = add_fake(capsys, monkeypatch, fake, "--fallback")
    assert code == 0, err
    assert "added provider fake" in out and "stored fake_api_key" in out
    text = config_file.read_text()
    kept = [line for line in MINE.splitlines() if "fallbacks" not in line]
    assert all(line in text.splitlines() for line in kept)
    # The value grew past the comment's column: one space is left before it.
    assert "  fallbacks: [paid, fake] # then this" in text
    assert f"  fake:\n    kind: openai\n    base_url: {fake.base_url}\n" in text
    assert "sk-test-key" not in text and "api_key: keyring:fake_api_key" in text
    assert SecretStore(resolve()).get("fake_api_key") == "sk-test-key"
    config = load_config(config_file)
    assert config.provider_order() == ["local", "paid", "fake"]
    assert audit() == [("providers.add", "fake", "ok")]


@pytest.mark.parametrize(("args", "said"), [
    (["--kind", "opneai", "--model", "m"], "unknown provider kind 'opneai' (known: "),
    (["--kind", "openai", "--model", "m", "--base-url", "htp:/nope"], "malformed URL"),
    (["--kind", "openai", "--model", "m", "--base-url", "https://x:99999/v1"], "malformed URL"),
    (["--kind", "openai", "--base-url", "http://127.0.0.1:1/v1"], "missing --model"),
    (["--model", "m"], "missing --kind"),
    (["--kind", "openai", "--model", "m", "--auth", "magic"], "unknown auth type 'magic'"),
    (["--kind", "openai", "--model", "m", "--api-key-ref", "sk-literal"],
     "must be a reference like keyring:NAME"),
    (["--kind", "openai", "--model", "m", "--auth", "oauth"], "missing --oauth-token-url"),
    (["--kind", "openai", "--model", "m", "--cert", "/nonexistent.pem", "--key", "/x.key"],
     "--cert: no such file: /nonexistent.pem"),
    (["--kind", "openai", "--model", "m", "--cert", "/", "--key", "/x.key"],
     "--cert: / is not a file"),
    (["--kind", "openai", "--model", "m", "--auth", "none", "--cert", "/c.pem", "--key",
      "/c.key"], "--auth none contradicts --cert/--key"),
    (["--kind", "openai", "--model", "m", "--base-url", "https://api.exa mple.com/v1"],
     "'https://api.exa mple.com/v1': it contains spaces"),
    (["--kind", "openai", "--model", "m", "--base-url", "https://h/v1?key=1"],
     "'https://h/v1?key=1': it has a query string"),
    (["--kind", "openai", "--model", "m", "--base-url", "https://h!x/v1"],
     "'h!x' is not a host name"),
    (["--kind", "openai", "--model", "m", "--base-url", "https://me:pw@h/v1"],
     "'https://me:pw@h/v1' carries a user name or password"),
    (["--kind", "openai", "--model", "m", "--base-url", "grpc://h:8001"],
     "kind 'openai' takes http/https:// addresses, not grpc://"),
    (["--kind", "grpc", "--model", "m", "--base-url", "grpc://h:8001/v2"],
     "--base-url 'grpc://h:8001/v2' is not an address kind 'grpc' can use"),
    (["--kind", "openai", "--model", "m", "--auth", "oauth", "--oauth-flow",
      "client_credentials", "--oauth-token-url", "ftp://id/token"],
     "--oauth-token-url: malformed URL 'ftp://id/token'"),
])
def test_bad_input_is_a_clear_error_and_leaves_config_untouched(
    config_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str,
) -> None:
    code, _, err = cli(capsys, "providers", "add", "new", *args)
    assert code == 2, err
    assert said in err and "fix:" in err
    assert config_file.read_bytes() == MINE.encode()
    assert audit() == []


@pytest.mark.parametrize("command", [
    ["remove"], ["set-default"], ["test"], ["test", "--json"], ["models"], ["login"],
    ["logout"]])
def test_a_provider_name_that_does_not_exist_is_named_with_the_fix_and_changes_nothing(
    config_file: Path, capsys: pytest.CaptureFixture[str], command: list[str],
) -> None:
    code, out, err = cli(capsys, "providers", command[0], "loacl", *command[1:])
    assert code == 2 and out == ""
    assert "error: no provider named 'loacl'; did you mean 'local'? (providers: local, " \
        "paid)" in err
    assert "fix: `assistant-cli providers list` shows them" in err
    assert config_file.read_bytes() == MINE.encode()
    assert audit() == []


def test_unknown_kind_suggests_the_closest_known_one(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = cli(capsys, "providers", "add", "new", "--kind", "opneai", "--model", "m")
    assert "did you mean 'openai'?" in err


def test_adding_an_existing_name_needs_replace(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["providers", "add", "local", "--kind", "openai", "--base-url",
            "http://127.0.0.1:8000/v1", "--model", "qwen", "--auth", "none"]
    code, _, err = cli(capsys, *args)
    assert code == 2 and "already exists" in err and "--replace" in err
    code, _, err = cli(capsys, *args, "--replace")
    assert code == 0, err
    text = config_file.read_text()
    assert text.index("  local:\n    kind: openai") < text.index("  paid:")  # same place
    assert "# the local one, keep it first" in text and "model: qwen" in text
    assert load_config(config_file).providers["local"].model == "qwen"


def test_a_config_that_does_not_validate_is_not_edited(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = MINE.replace("history_length: 10", "history_length: lots")
    config_file.write_text(broken)
    code, _, err = cli(capsys, "providers", "add", "x", "--kind", "openai", "--model", "m",
                       "--base-url", "http://127.0.0.1:1/v1", "--auth", "none")
    assert code == 2 and "history_length" in err
    assert config_file.read_text() == broken


def test_add_creates_a_config_when_there_is_none(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "providers", "add", "local", "--kind", "openai", "--base-url",
                         "http://127.0.0.1:11434/v1", "--model", "llama3.2", "--default")
    assert code == 0, err
    config = load_config(isolated_home / "config.yaml")
    assert config.assistant.provider == "local" and config.providers["local"].api_key is None


def test_add_oauth_writes_the_auth_block_and_points_at_login(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("client-secret-value\n"))
    code, out, err = cli(
        capsys, "providers", "add", "corp", "--kind", "openai", "--base-url",
        "https://llm.example.com/v1", "--model", "corp-chat", "--auth", "oauth",
        "--oauth-flow", "device_code", "--oauth-device-url", "https://id.example.com/device",
        "--oauth-token-url", "https://id.example.com/token", "--oauth-client-id", "cli",
        "--oauth-client-secret-stdin", "--oauth-scope", "chat", "--oauth-scope",
        "offline_access")
    assert code == 0, err
    assert "next: assistant-cli providers login corp" in out
    auth = load_config(config_file).providers["corp"].auth
    assert auth is not None and auth.flow == "device_code"
    assert auth.scopes == ["chat", "offline_access"]
    assert auth.client_secret == "keyring:corp_client_secret"
    assert "scopes: [chat, offline_access]" in config_file.read_text()
    assert SecretStore(resolve()).get("corp_client_secret") == "client-secret-value"


def test_remove_drops_the_block_its_fallback_entry_and_its_secret(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_fake(capsys, monkeypatch, fake, "--fallback")
    code, out, err = cli(capsys, "providers", "remove", "fake")
    assert code == 0, err
    assert "removed fake_api_key from the keyring" in out
    assert squeeze(config_file.read_text()) == squeeze(MINE)  # back as it was, but spacing
    assert SecretStore(resolve()).get("fake_api_key") is None
    code, out, err = cli(capsys, "providers", "remove", "paid")
    assert code == 0, err
    text = config_file.read_text()
    assert "# paid, for when local is down" not in text and "  fallbacks: []" in text
    assert "# the local one, keep it first" in text
    assert [a for a, _, _ in audit()] == ["providers.add", "providers.remove",
                                          "providers.remove"]


def test_remove_refuses_the_default_and_unknown_names(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "providers", "remove", "local")
    assert code == 2 and "is the default provider" in err and "set-default paid" in err
    code, _, err = cli(capsys, "providers", "remove", "loacl")
    assert code == 2 and "no provider named 'loacl'; did you mean 'local'?" in err
    assert config_file.read_text() == MINE


def test_set_default_changes_the_order_and_is_audited(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "providers", "set-default", "paid")
    assert code == 0, err
    assert "order: paid" in out
    text = config_file.read_text()
    assert "  provider: paid       # answers first" in text and "  fallbacks: []" in text
    assert audit() == [("providers.set-default", "paid", "ok")]
    code, _, err = cli(capsys, "providers", "set-default", "nope")
    assert code == 2 and "no provider named 'nope'" in err


def test_list_shows_roles_auth_and_health_after_a_test(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_fake(capsys, monkeypatch, fake)
    assert cli(capsys, "providers", "test", "fake")[0] == 0
    code, out, _ = cli(capsys, "providers", "list", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["providers"]}
    assert rows["local"]["role"] == "default" and rows["paid"]["role"] == "fallback 1"
    assert rows["fake"]["role"] == "-" and rows["fake"]["auth"] == "api-key"
    assert rows["local"]["health"] is None
    assert rows["fake"]["health"]["ok"] and rows["fake"]["health"]["source"] == "test"
    code, out, _ = cli(capsys, "providers", "list")
    assert "never checked" in out and "ok" in out


def test_providers_test_reports_status_latency_and_model(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_fake(capsys, monkeypatch, fake)
    code, out, err = cli(capsys, "providers", "test", "fake", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and [s["name"] for s in report["steps"]] == ["health", "completion"]
    completion = report["steps"][1]
    assert completion["status"] == 200 and completion["latency_ms"] > 0
    assert completion["model"] == "fake-model" and completion["reply"]
    assert "fake works" in report["diagnosis"]


@pytest.mark.parametrize(("behaviour", "kind", "said"), [
    (Error.rate_limited(retry_after=2), "rate_limit", "rate limiting us"),
    (Error.insufficient_quota(), "quota", "quota is exhausted"),
    (Error.server_error(), "overload", "service itself is failing"),
])
def test_providers_test_classifies_failures_and_shows_limit_headers(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, behaviour: Error, kind: str, said: str,
) -> None:
    add_fake(capsys, monkeypatch, fake)
    fake.enqueue(behaviour)
    code, out, err = cli(capsys, "providers", "test", "fake")
    assert code == 1
    assert f"completion FAIL  HTTP {behaviour.status}" in out and f"[{kind}]" in out
    assert said in err
    if kind == "rate_limit":
        assert "x-ratelimit-remaining-requests: 0" in out and "retry-after: 2" in out


def test_providers_test_with_a_wrong_key_is_an_auth_failure(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_fake(capsys, monkeypatch, fake)
    SecretStore(resolve()).set("fake_api_key", "sk-wrong")
    code, out, err = cli(capsys, "providers", "test", "fake")
    assert code == 1 and "health     FAIL  HTTP 401" in out and "[auth]" in out
    assert "refused our credentials (HTTP 401)" in err


def test_providers_test_on_an_unreachable_service_names_host_and_port(
    config_file: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = cli(capsys, "providers", "test", "local")
    assert code == 1 and "[network]" in out
    assert "No answer from 127.0.0.1:11434" in err and "port 11434" in err


def test_providers_test_with_a_missing_secret_explains_it(
    config_file: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = cli(capsys, "providers", "test", "paid")
    assert code == 1 and "secrets set paid_api_key" in err


def test_models_lists_what_the_api_offers(
    config_file: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_fake(capsys, monkeypatch, fake)
    code, out, err = cli(capsys, "providers", "models", "fake")
    assert code == 0, err
    assert out.splitlines() == ["fake-model", "other-model"]  # piped: bare names
    code, out, _ = cli(capsys, "providers", "models", "fake", "--json")
    assert json.loads(out) == {"provider": "fake", "configured": "fake-model",
                               "models": ["fake-model", "other-model"]}
    code, _, err = cli(capsys, "providers", "models", "ghost")
    assert code == 2 and "no provider named 'ghost'" in err


class Terminal(io.StringIO):
    """Typed answers, on what looks like a terminal."""

    def isatty(self) -> bool:
        return True


def test_people_at_a_terminal_are_asked_for_what_is_missing(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # kind, base URL (Enter keeps the default), model, auth (Enter = api-key)
    monkeypatch.setattr("sys.stdin", Terminal("openai\n\nmy-model\n\n"))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-typed-at-a-prompt")
    code, _, err = cli(capsys, "providers", "add", "asked")
    assert code == 0, err
    cfg = load_config(isolated_home / "config.yaml").providers["asked"]
    assert (cfg.kind, cfg.base_url, cfg.model) == ("openai", "https://api.openai.com/v1",
                                                   "my-model")
    assert cfg.api_key == "keyring:asked_api_key"
    assert SecretStore(resolve()).get("asked_api_key") == "sk-typed-at-a-prompt"
