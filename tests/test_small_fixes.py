"""The smaller promises of issue 11: one-line console errors, a dropped stream named as such,
disabled platform blocks, a corrupt database named, `pairing allow` ending the request,
`/status` not counting itself, and 401 advice that names the secret to replace."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.errors import ConfigError, StateError
from assistant_cli.observability.logs import setup_logging, teardown_logging
from assistant_cli.providers.errors import network_error
from assistant_cli.store.db import Database
from assistant_cli.store.pairing import PairingStore
from tests.fakes.openai_server import Error, FakeOpenAI
from tests.test_engine import RecordingChannel, build, config_for, m


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _fail_a_message() -> None:
    try:
        raise ValueError("boom: the reply could not be stored")
    except ValueError:
        logging.getLogger("assistant_cli.engine").exception(
            "failed to handle telegram message 7 (will retry)",
            extra={"event": "message.error"})


def test_message_error_is_one_line_with_the_cause_and_the_log_keeps_the_traceback(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log_file = tmp_path / "a.jsonl"
    setup_logging(log_file, console_level="WARNING")
    try:
        _fail_a_message()
    finally:
        teardown_logging()
    err = capfd.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ValueError: boom: the reply could not be stored" in err
    record = json.loads(log_file.read_text().splitlines()[-1])
    assert "Traceback" in record["exc"]


def test_debug_shows_the_traceback_on_the_console(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging(tmp_path / "a.jsonl", console_level="DEBUG", console_tracebacks=True)
    try:
        _fail_a_message()
    finally:
        teardown_logging()
    assert "Traceback" in capfd.readouterr().err


def test_a_dropped_stream_is_not_reported_as_could_not_connect() -> None:
    url = "https://api.example.test/v1/chat/completions"
    dropped = network_error("main", url, httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body"))
    assert "could not connect" not in dropped.message
    assert "dropped" in dropped.message and "api.example.test:443" in dropped.message
    refused = network_error("main", url, httpx.ConnectError("connection refused"))
    assert "could not connect to api.example.test:443" in refused.message


def test_a_disabled_whatsapp_block_needs_none_of_its_keys() -> None:
    config = validate_document(parse_document(
        "platforms:\n  whatsapp: {enabled: false}\n", "c"), "c")
    assert config.platforms.whatsapp is not None and not config.platforms.whatsapp.enabled
    with pytest.raises(ConfigError, match="business_id"):
        validate_document(parse_document("platforms:\n  whatsapp: {enabled: true}\n", "c"), "c")


def test_a_disabled_telegram_block_needs_no_token() -> None:
    validate_document(parse_document("platforms:\n  telegram: {enabled: false}\n", "c"), "c")


def test_a_corrupt_database_is_named_with_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database at all, only text" * 200)
    with pytest.raises(StateError) as info:
        Database(path)
    hint = info.value.hint or ""
    assert "corrupt" in info.value.message
    assert ".recover" in hint and "backup" in hint and "disk" not in hint


def test_pairing_allow_ends_the_pending_request(tmp_path: Path) -> None:
    store = PairingStore(Database(tmp_path / "s.db"))
    assert store.request_code("telegram", "42", "42", "Alice") is not None
    assert [r.user_id for r in store.pending()] == ["42"]
    store.allow("telegram", "42", "os:owner")
    assert store.pending() == [] and store.is_approved("telegram", "42")


async def test_status_does_not_count_itself(tmp_path: Path, fake: FakeOpenAI) -> None:
    channel = RecordingChannel()
    engine = build(Database(tmp_path / "s.db"), config_for(fake.base_url), channel)
    await engine.start()
    await engine.submit(m("1", "/status"))
    await engine.drain(5)
    await engine.stop()
    assert "0 messages waiting" in channel.sent[0][1]


def test_providers_test_401_names_the_secret_to_replace(
        isolated_home: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant_cli.paths import resolve
    from assistant_cli.secrets.store import SecretStore
    from tests.clirun import cli

    paths = resolve()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(f"providers:\n  main: {{base_url: '{fake.base_url}', "
                                 "model: fake-model, api_key: keyring:main_key}\n")
    SecretStore(paths).set("main_key", "sk-wrong-key-123")
    fake.script = [Error.invalid_api_key()] * 4
    code, out, err = cli(capsys, "providers", "test", "main")
    text = out + err
    assert code != 0
    assert "secrets rotate main_key" in text and "secrets set main_key" in text
    assert "providers test main`" not in text  # not "run what you just ran"


def test_every_not_answered_twice_claim_states_the_final_send_window() -> None:
    import re

    root = Path(__file__).resolve().parent.parent
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = " ".join(doc.read_text().split())
        for match in re.finditer(r"not answered twice|answered once", text):
            after = text[match.end():match.end() + 300]
            assert "final send" in after, f"{doc.name}: {text[match.start():match.end() + 80]}"
