"""The secret store: references, metadata for rotation, redaction, no plaintext fallback."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from assistant_cli.errors import KeyringUnavailable, SecretError, StateError
from assistant_cli.paths import resolve
from assistant_cli.secrets.store import SecretStore
from tests.memkeyring import MemoryKeyring


def test_keyring_reference_resolves_and_env_reference_reads_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SecretStore(resolve())
    store.set("tg", "123:secret-token-value")
    assert store.resolve("keyring:tg", key="platforms.telegram.api_token") == \
        "123:secret-token-value"
    monkeypatch.setenv("MY_KEY", "from-env")
    assert store.resolve("env:MY_KEY", key="k") == "from-env"


def test_missing_keyring_secret_names_the_config_key_and_the_fix() -> None:
    with pytest.raises(SecretError) as info:
        SecretStore(resolve()).resolve("keyring:nope", key="providers.openai.api_key")
    assert "providers.openai.api_key" in info.value.message
    assert "assistant-cli secrets set nope" in str(info.value)


def test_missing_env_secret_names_the_variable() -> None:
    with pytest.raises(SecretError, match="environment variable NOT_THERE is not set"):
        SecretStore(resolve()).resolve("env:NOT_THERE", key="k")


def test_metadata_records_set_and_rotation_times(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore(resolve())
    store.set("a", "v1")
    first = store.list()[0]
    store.set("a", "v2")
    second = store.list()[0]
    assert second.created_at == first.created_at
    assert second.rotated_at >= first.rotated_at
    assert memory_keyring.entries[("assistant-cli", "a")] == "v2"
    assert [i.name for i in store.list()] == ["a"]


def test_resolved_secrets_are_redacted_from_logs() -> None:
    from assistant_cli.observability.logs import get_redactor

    store = SecretStore(resolve())
    store.set("k", "very-secret-value-42")
    store.resolve("keyring:k", key="k")
    assert "very-secret-value-42" not in get_redactor().redact("token very-secret-value-42 here")


def test_no_keyring_backend_fails_with_the_options_never_plaintext() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    store = SecretStore(resolve())
    with pytest.raises(KeyringUnavailable) as info:
        store.set("x", "y")
    text = str(info.value)
    assert "PYTHON_KEYRING_BACKEND" in text and "ASSISTANT_CLI_KEYRING_PASSWORD" in text
    assert not resolve().secrets_file.exists()


def test_encrypted_file_backend_is_used_when_its_password_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_CLI_KEYRING_PASSWORD", "correct horse")
    store = SecretStore(resolve())
    store.set("x", "y-value")
    assert resolve().secrets_file.exists()
    assert b"y-value" not in resolve().secrets_file.read_bytes()
    assert SecretStore(resolve()).get("x") == "y-value"


def test_unusable_state_directory_fails_before_the_keyring_changes(
    memory_keyring: MemoryKeyring, isolated_home: Path
) -> None:
    (isolated_home / "state").write_text("a file where the state directory belongs")
    store = SecretStore(resolve())
    with pytest.raises(StateError, match="is a file"):
        store.set("openai_api_key", "sk-new")
    assert keyring.get_password("assistant-cli", "openai_api_key") is None
